"""schemathesis hooks for Auditgate (loaded by tests/schemathesis/run via SCHEMATHESIS_HOOKS)."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    """`POST /v1/events/bulk` documents its body as an array of events sent one per line:
    each element becomes one NDJSON line (anything else, from negative tests, one line)."""
    if isinstance(value, bytes):
        return value
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")
