#!/usr/bin/env bash
# Send the sample events to a gateway started with `./dev serve`, then read them back.
set -euo pipefail
url=${AUDITGATE_URL:-http://127.0.0.1:8080}
here=$(dirname "$0")
curl -sS "$url/v1/events/bulk" -H 'Authorization: Bearer ag_dev_ingest_key' \
  -H 'Content-Type: application/x-ndjson' --data-binary @"$here/events.ndjson"
echo
curl -sS "$url/v1/events?user=bob&order=desc&limit=10" -H 'Authorization: Bearer ag_dev_auditor_key'
echo
