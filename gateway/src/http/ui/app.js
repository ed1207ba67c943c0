// Auditgate dashboard. Plain browser JavaScript, no dependencies: everything it shows comes
// from this gateway's /v1 read endpoints, called with the auditor key kept in sessionStorage.
'use strict';

const KEY_STORAGE = 'auditgate.auditor_key';
const FILTERS = ['user', 'action', 'outcome', 'ip', 'source', 'resource_type', 'resource_id', 'session_id'];
// The fallbacks read at most this many pages of 1000 events.
const MAX_FALLBACK_PAGES = 20;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------
// API calls and their errors
// ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function key() {
  return sessionStorage.getItem(KEY_STORAGE) || '';
}

/// Why a request failed, in words an auditor can act on.
function explain(status, code, message) {
  if (status === 0) return `Cannot reach the gateway (${message}). Is it running, and is this the right address?`;
  if (status === 401) return `The gateway refused the key (401 ${code}): sign in again with a valid auditor key.`;
  if (status === 403) return `This key may not do that (403 ${code}): the dashboard needs a key with role "auditor". ${message}`;
  if (status === 400) return `The gateway refused the request (400 ${code}): ${message}`;
  if (status === 503) return `The gateway cannot read its store right now (503): ${message}`;
  return `The gateway answered ${status} ${code}: ${message}`;
}

async function request(path) {
  let response;
  try {
    response = await fetch(path, { headers: { Authorization: `Bearer ${key()}` }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', explain(0, 'network', e.message));
  }
  if (!response.ok) {
    let code = 'error';
    let message = response.statusText;
    try {
      const body = await response.json();
      code = body.error.code;
      message = body.error.message;
    } catch (_) { /* not our JSON error shape */ }
    if (response.status === 401) signOut(explain(401, code, message));
    throw new ApiError(response.status, code, explain(response.status, code, message));
  }
  return response;
}

async function api(path) {
  const response = await request(path);
  return response.json();
}

function showMessage(text, kind) {
  const m = $('message');
  m.textContent = text;
  m.className = `message ${kind || 'error'}`;
  m.hidden = !text;
}

function fail(e) {
  if (e instanceof ApiError && e.status === 401) return; // back at the sign-in form, which says why
  showMessage(e.message || String(e));
}

// ---------------------------------------------------------------------------------------
// Times: the inputs take UTC, as `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` or RFC 3339
// ---------------------------------------------------------------------------------------

function parseTime(text, label) {
  const t = text.trim();
  if (!t) return null;
  let iso = t.replace(' ', 'T');
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) iso += 'T00:00:00';
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(iso)) iso += ':00';
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(iso)) iso += 'Z';
  const ms = Date.parse(iso);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(iso) || Number.isNaN(ms)) {
    throw new Error(`"${label}" is not a time: ${JSON.stringify(t)} (write 2026-01-31 or 2026-01-31 08:00, UTC)`);
  }
  return new Date(ms);
}

function formatInput(date) {
  return date.toISOString().slice(0, 16).replace('T', ' ');
}

function formatTime(text) {
  return typeof text === 'string' ? text.replace('T', ' ').replace(/(\.\d{3})\d*Z$/, '$1') : '';
}

// ---------------------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------------------

function signOut(reason) {
  sessionStorage.removeItem(KEY_STORAGE);
  $('app').hidden = true;
  $('status-line').hidden = true;
  $('signin').hidden = false;
  $('message').hidden = true;
  const err = $('signin-error');
  err.textContent = reason || '';
  err.hidden = !reason;
  $('key').value = '';
  $('key').focus();
}

async function signIn(candidate) {
  sessionStorage.setItem(KEY_STORAGE, candidate);
  try {
    await api('/v1/alerts?limit=1');
  } catch (e) {
    sessionStorage.removeItem(KEY_STORAGE);
    $('signin-error').textContent = e.message;
    $('signin-error').hidden = false;
    return;
  }
  enterApp();
}

function enterApp() {
  $('signin').hidden = true;
  $('app').hidden = false;
  $('status-line').hidden = false;
  $('signin-error').hidden = true;
  showMessage('');
  loadCheckpoint().catch(fail);
  search().catch(fail);
  loadAlerts(true).catch(fail);
  presetChart(24);
}

// ---------------------------------------------------------------------------------------
// Search and results
// ---------------------------------------------------------------------------------------

const paging = { cursors: [null], page: 0, params: null, generation: 0 };

/// The filters of the search form as query parameters (no paging).
function filterParams() {
  const p = new URLSearchParams();
  for (const name of FILTERS) {
    const v = $(`f-${name}`).value.trim();
    if (v) p.set(name, v);
  }
  const from = parseTime($('f-from').value, 'From');
  const to = parseTime($('f-to').value, 'To');
  if (from) p.set('from', from.toISOString());
  if (to) p.set('to', to.toISOString());
  return p;
}

async function search() {
  paging.params = filterParams();
  paging.cursors = [null];
  paging.page = 0;
  await showPage();
}

async function showPage() {
  const p = new URLSearchParams(paging.params);
  p.set('order', $('f-order').value);
  p.set('limit', $('f-limit').value);
  const cursor = paging.cursors[paging.page];
  if (cursor) p.set('cursor', cursor);
  $('results-summary').textContent = 'Searching…';
  const generation = ++paging.generation;
  const page = await api(`/v1/events?${p}`);
  if (generation !== paging.generation) return; // a newer search or page was asked for meanwhile
  paging.cursors[paging.page + 1] = page.next_cursor;
  renderResults(page.events);
  const n = page.events.length;
  $('results-summary').textContent = n
    ? `${n} event${n === 1 ? '' : 's'} on this page${page.next_cursor ? ', more on the next' : ''}.`
    : 'No event matches these filters.';
  $('page-number').textContent = `page ${paging.page + 1}`;
  $('prev-page').disabled = paging.page === 0;
  $('next-page').disabled = !page.next_cursor;
  showMessage('');
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text === undefined || text === null ? '' : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function renderResults(events) {
  const body = $('results').tBodies[0];
  body.replaceChildren();
  for (const e of events) {
    const tr = document.createElement('tr');
    tr.className = 'event-row';
    tr.dataset.seq = e.seq;
    tr.tabIndex = 0;
    cell(tr, e.seq, 'num');
    cell(tr, formatTime(e.time));
    cell(tr, e.action);
    cell(tr, e.outcome, `outcome ${e.outcome}`);
    cell(tr, e.user);
    cell(tr, e.ip);
    cell(tr, e.source);
    cell(tr, (e.tags || []).join(', '));
    tr.addEventListener('click', () => openEvent(e.seq).catch(fail));
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openEvent(e.seq).catch(fail); });
    body.appendChild(tr);
  }
}

// ---------------------------------------------------------------------------------------
// Event detail and the inclusion-proof check
// ---------------------------------------------------------------------------------------

function chips(target, values, empty) {
  target.replaceChildren();
  if (!values || values.length === 0) {
    target.textContent = empty;
    return;
  }
  for (const v of values) {
    const span = document.createElement('span');
    span.className = 'chip';
    span.textContent = v;
    target.appendChild(span);
  }
}

async function openEvent(seq) {
  const record = await api(`/v1/events/${encodeURIComponent(seq)}`);
  $('detail').hidden = false;
  $('detail').dataset.seq = seq;
  $('detail-title').textContent = `Event ${record.seq}`;
  $('detail-policy-set').textContent = record.policy_set || '';
  chips($('detail-redacted'), record.redacted, 'none');
  chips($('detail-tags'), record.tags, 'none');
  const body = $('detail-fields').tBodies[0];
  body.replaceChildren();
  for (const name of Object.keys(record).sort()) {
    const tr = document.createElement('tr');
    tr.dataset.field = name;
    const th = document.createElement('th');
    th.textContent = name;
    tr.appendChild(th);
    const value = record[name];
    const td = cell(tr, '');
    if (value !== null && typeof value === 'object') {
      const pre = document.createElement('pre');
      pre.textContent = JSON.stringify(value, null, 2);
      td.appendChild(pre);
    } else {
      td.textContent = String(value);
    }
    body.appendChild(tr);
  }
  for (const row of document.querySelectorAll('.event-row')) {
    row.classList.toggle('selected', row.dataset.seq === String(seq));
  }
  await checkProof(seq);
}

/// RFC 8785 canonical JSON of a parsed value: the exact bytes the log hashed. JSON.stringify
/// already writes strings and numbers the way RFC 8785 wants; objects need sorted keys
/// (UTF-16 code unit order, which is what Array.prototype.sort compares).
function canonicalJson(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
}

async function sha256(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { buf.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
}

const leafHash = (data) => sha256(Uint8Array.of(0), data);
const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

function fromBase64(text) {
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or null when the proof does
/// not fit the index and size. Sizes are below 2^53, so plain numbers do.
async function rootFromInclusionProof(index, size, leaf, proof) {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/// The body lines of a signed checkpoint note: origin, size, base64 root, extension.
function parseCheckpoint(note) {
  const body = note.split('\n\n')[0].split('\n');
  if (body.length < 3) throw new Error('the checkpoint note has no root line');
  return { origin: body[0], size: Number(body[1]), root: body[2], extension: body[3] || '' };
}

/// Checks a proof bundle (`GET /v1/events/{seq}/proof`): the record's canonical bytes and
/// the audit path must lead to the signed checkpoint's root. Returns {ok, detail}.
async function verifyBundle(bundle) {
  const cp = parseCheckpoint(bundle.checkpoint);
  if (bundle.leaf_index !== bundle.seq - 1) return { ok: false, detail: `leaf_index ${bundle.leaf_index} is not seq - 1` };
  if (bundle.tree_size !== cp.size) return { ok: false, detail: `tree_size ${bundle.tree_size} is not the checkpoint's size ${cp.size}` };
  if (bundle.record.seq !== bundle.seq) return { ok: false, detail: `the record's seq is not ${bundle.seq}` };
  const bytes = new TextEncoder().encode(canonicalJson(bundle.record));
  const leaf = await leafHash(bytes);
  const root = await rootFromInclusionProof(bundle.leaf_index, bundle.tree_size, leaf, bundle.proof.map(fromBase64));
  if (root === null) return { ok: false, detail: 'the audit path does not fit the record\'s position in the tree' };
  const computed = toBase64(root);
  if (computed !== cp.root) {
    return { ok: false, detail: `computed root ${computed} differs from the checkpoint's ${cp.root}: the record or the proof was changed` };
  }
  return { ok: true, detail: `root ${computed} of checkpoint ${cp.extension.split(' ')[1] || ''} (${cp.size} records, ${cp.origin})`, root: computed };
}

async function checkProof(seq) {
  const box = $('proof');
  box.className = 'proof pending';
  box.textContent = 'Inclusion proof: checking…';
  let bundle;
  try {
    bundle = await api(`/v1/events/${encodeURIComponent(seq)}/proof`);
  } catch (e) {
    if ($('detail').dataset.seq !== String(seq)) return;
    box.className = 'proof unavailable';
    box.textContent = e.status === 404
      ? `Inclusion proof: not available yet (${e.message.replace(/^The gateway answered 404 not_found: /, '')}). Checkpoints are signed every few events or seconds; reopen the event later.`
      : `Inclusion proof: could not be fetched. ${e.message}`;
    if (e.status === 401) throw e;
    return;
  }
  const result = await verifyBundle(bundle);
  if ($('detail').dataset.seq !== String(seq)) return; // another event was opened meanwhile
  box.className = `proof ${result.ok ? 'ok' : 'failed'}`;
  box.dataset.result = result.ok ? 'ok' : 'failed';
  box.textContent = result.ok
    ? `Inclusion proof: ok. Record ${seq} hashes, with its ${bundle.proof.length}-hash audit path, to the ${result.detail}. The checkpoint's signature is checked offline: auditgate proof verify.`
    : `Inclusion proof: FAILED. ${result.detail}`;
}

// ---------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------

const EXPORT_TYPES = { csv: 'text/csv', jsonl: 'application/x-ndjson', ocsf: 'application/x-ndjson', cef: 'text/plain' };
const CSV_COLUMNS = ['seq', 'time', 'received_at', 'source', 'action', 'outcome', 'severity', 'user', 'ip',
  'user_agent', 'session_id', 'request_id', 'resource_type', 'resource_id', 'reason', 'tags', 'redacted',
  'details', 'changes', 'id', 'policy_set', 'prev'];

// CSV injection: an event's text is whatever its sender wrote, and a spreadsheet evaluates
// a cell that starts like a formula. The same rule as the gateway's CSV export
// (gateway/src/export/csv.rs, its module doc says why each part is there): one `'` goes in
// front of a cell that starts with tab, CR, LF, NUL or `'` (so that dropping one leading
// `'` always gives the stored text back), or whose first character after whitespace,
// control and invisible characters is `=`, `+`, `-`, `@`, a full-width, small,
// superscript or subscript form of one, or U+2212 MINUS SIGN.
const CSV_PREFIX_FIRST = /^[\t\r\n\0']/u;
const CSV_FORMULA_START = new RegExp(
  '^[\\s\\p{Cc}\\u00AD\\u034F\\u061C\\u115F\\u1160\\u17B4\\u17B5\\u180B-\\u180F\\u200B-\\u200F\\u202A-\\u202E' +
    '\\u2060-\\u206F\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0\\uFFF0-\\uFFF8\\u{1BCA0}-\\u{1BCA3}\\u{1D173}-\\u{1D17A}' +
    '\\u{E0000}-\\u{E0FFF}]*[=+\\-@\\uFF1D\\uFF0B\\uFF0D\\uFF20\\uFE66\\uFE62\\uFE63\\uFE6B\\u207A\\u207C\\u208A' +
    '\\u208C\\uFB29\\u2212]',
  'u',
);

function csvField(v) {
  if (v === undefined || v === null) return '';
  let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (CSV_PREFIX_FIRST.test(s) || CSV_FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/// Builds a CSV or JSONL file from `/v1/events` pages when the gateway has no `/v1/export`.
async function exportFromPages(format, params, status) {
  const lines = format === 'csv' ? [CSV_COLUMNS.join(',')] : [];
  let cursor = null;
  let count = 0;
  for (let page = 0; page < MAX_FALLBACK_PAGES; page++) {
    const p = new URLSearchParams(params);
    p.set('limit', '1000');
    if (cursor) p.set('cursor', cursor);
    const answer = await api(`/v1/events?${p}`);
    for (const e of answer.events) {
      lines.push(format === 'csv' ? CSV_COLUMNS.map((c) => csvField(e[c])).join(',') : JSON.stringify(e));
    }
    count += answer.events.length;
    status.textContent = `Export: ${count} events read…`;
    cursor = answer.next_cursor;
    if (!cursor) return { text: lines.join(format === 'csv' ? '\r\n' : '\n') + (lines.length ? (format === 'csv' ? '\r\n' : '\n') : ''), count, complete: true };
  }
  return { text: lines.join(format === 'csv' ? '\r\n' : '\n') + '\n', count, complete: false };
}

function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function exportEvents(format) {
  const status = $('export-status');
  status.hidden = false;
  status.className = 'note';
  const params = filterParams();
  const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*$/, 'Z');
  const name = `auditgate-${stamp}.${format === 'ocsf' ? 'ocsf.jsonl' : format}`;
  status.textContent = `Export (${format}): starting…`;
  const p = new URLSearchParams(params);
  p.set('format', format);
  let response;
  try {
    response = await request(`/v1/export?${p}`);
  } catch (e) {
    if (e.status === 404 && (format === 'csv' || format === 'jsonl')) {
      // A gateway without /v1/export: the same filters, page by page.
      const built = await exportFromPages(format, params, status);
      saveFile(new Blob([built.text], { type: EXPORT_TYPES[format] }), name);
      status.textContent = built.complete
        ? `Saved ${name}: ${built.count} events (built in the browser: this gateway has no /v1/export).`
        : `Saved ${name} with the first ${built.count} events only (built in the browser, ${MAX_FALLBACK_PAGES} pages at most): narrow the filters.`;
      status.dataset.done = name;
      return;
    }
    status.className = 'note error';
    status.textContent = e.status === 404 ? `Export (${format}) needs a gateway with GET /v1/export.` : e.message;
    throw e;
  }
  // Read the stream, showing progress.
  const reader = response.body.getReader();
  const chunks = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.length;
    status.textContent = `Export (${format}): ${(bytes / 1024).toFixed(0)} KiB received…`;
  }
  saveFile(new Blob(chunks, { type: response.headers.get('content-type') || EXPORT_TYPES[format] }), name);
  status.textContent = `Saved ${name} (${bytes} bytes).`;
  status.dataset.done = name;
}

// ---------------------------------------------------------------------------------------
// Logins chart: /v1/stats when the gateway has it, else counted from /v1/events pages
// ---------------------------------------------------------------------------------------

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

function floorTo(ms, step) {
  return Math.floor(ms / step) * step;
}

function presetChart(hours) {
  const bucket = hours > 72 ? 'day' : 'hour';
  const step = bucket === 'day' ? DAY : HOUR;
  const to = floorTo(Date.now(), step) + step;
  $('c-bucket').value = bucket;
  $('c-to').value = formatInput(new Date(to));
  $('c-from').value = formatInput(new Date(to - hours * HOUR));
  drawChart().catch(fail);
}

async function loginCounts(from, to, bucket, step, slots) {
  const success = new Array(slots).fill(0);
  const failure = new Array(slots).fill(0);
  const add = (ms, outcome, n) => {
    const i = Math.floor((ms - from) / step);
    if (i < 0 || i >= slots) return;
    if (outcome === 'success') success[i] += n;
    if (outcome === 'failure') failure[i] += n;
  };
  const range = `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;
  try {
    const stats = await api(`/v1/stats?${range}&bucket=${bucket}&by=outcome&action=user.login`);
    for (const b of stats.buckets || []) {
      const ms = Date.parse(b.start);
      for (const [outcome, n] of Object.entries(b.counts || {})) add(ms, outcome, Number(n) || 0);
    }
    return { success, failure, how: 'from /v1/stats' };
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  // No /v1/stats on this gateway: count the logins page by page.
  let cursor = null;
  let counted = 0;
  for (let page = 0; page < MAX_FALLBACK_PAGES; page++) {
    const answer = await api(`/v1/events?action=user.login&${range}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const e of answer.events) add(Date.parse(e.time), e.outcome, 1);
    counted += answer.events.length;
    cursor = answer.next_cursor;
    if (!cursor) return { success, failure, how: `counted from ${counted} login events (this gateway has no /v1/stats)` };
  }
  return { success, failure, how: `counted from the first ${counted} login events only (this gateway has no /v1/stats): choose a shorter range` };
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(name, attrs, parent) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

let chartGeneration = 0;

async function drawChart() {
  const bucket = $('c-bucket').value;
  const step = bucket === 'day' ? DAY : HOUR;
  const fromDate = parseTime($('c-from').value, 'From');
  const toDate = parseTime($('c-to').value, 'To');
  if (!fromDate || !toDate) throw new Error('The chart needs both "From" and "To".');
  const from = floorTo(fromDate.getTime(), step);
  const to = Math.max(from + step, floorTo(toDate.getTime() + step - 1, step));
  const slots = Math.round((to - from) / step);
  if (slots > 2000) throw new Error(`That is ${slots} ${bucket}s: choose a shorter range or per day.`);
  $('chart-note').textContent = 'Counting…';
  const generation = ++chartGeneration;
  const { success, failure, how } = await loginCounts(from, to, bucket, step, slots);
  if (generation !== chartGeneration) return; // a newer chart was asked for meanwhile
  renderChart($('chart'), from, step, bucket, [
    { name: 'success', label: 'successful', values: success },
    { name: 'failure', label: 'failed', values: failure },
  ]);
  const total = (a) => a.reduce((x, y) => x + y, 0);
  $('chart-note').textContent = `${total(success)} successful and ${total(failure)} failed logins, ${slots} ${bucket}s from ${formatInput(new Date(from))} to ${formatInput(new Date(to))} UTC; ${how}.`;
}

function renderChart(box, from, step, bucket, series) {
  const W = 900;
  const H = 280;
  const pad = { left: 48, right: 16, top: 16, bottom: 40 };
  const slots = series[0].values.length;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => pad.left + (slots === 1 ? (W - pad.left - pad.right) / 2 : (i * (W - pad.left - pad.right)) / (slots - 1));
  const y = (v) => H - pad.bottom - (v * (H - pad.top - pad.bottom)) / max;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'logins per bucket', class: 'chart-svg' });
  // Axes and horizontal grid lines.
  for (let k = 0; k <= 4; k++) {
    const v = Math.round((max * k) / 4);
    svg('line', { x1: pad.left, x2: W - pad.right, y1: y(v), y2: y(v), class: 'grid-line' }, root);
    svg('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis-label' }, root).textContent = v;
  }
  const every = Math.max(1, Math.ceil(slots / 8));
  for (let i = 0; i < slots; i += every) {
    const d = new Date(from + i * step).toISOString();
    const label = bucket === 'day' ? d.slice(5, 10) : `${d.slice(5, 10)} ${d.slice(11, 16)}`;
    svg('text', { x: x(i), y: H - pad.bottom + 18, 'text-anchor': 'middle', class: 'axis-label' }, root).textContent = label;
  }
  for (const s of series) {
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg('polyline', { points, class: `series ${s.name}` }, root);
    s.values.forEach((v, i) => {
      const c = svg('circle', { cx: x(i), cy: y(v), r: 3.5, class: `point ${s.name}`, 'data-count': v, 'data-start': new Date(from + i * step).toISOString() }, root);
      svg('title', {}, c).textContent = `${new Date(from + i * step).toISOString()}: ${v} ${s.label}`;
    });
  }
  // Legend.
  series.forEach((s, k) => {
    const lx = pad.left + 10 + k * 130;
    svg('rect', { x: lx, y: 4, width: 12, height: 12, class: `legend ${s.name}` }, root);
    svg('text', { x: lx + 18, y: 14, class: 'legend-label' }, root).textContent = `${s.label} logins`;
  });
  box.replaceChildren(root);
}

// ---------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------

let alertsCursor = null;

async function loadAlerts(fresh) {
  if (fresh) alertsCursor = null;
  const p = new URLSearchParams({ order: 'desc', limit: '50' });
  if (alertsCursor) p.set('cursor', alertsCursor);
  const page = await api(`/v1/alerts?${p}`);
  const body = $('alerts').tBodies[0];
  if (fresh) body.replaceChildren();
  for (const a of page.alerts) {
    const tr = document.createElement('tr');
    tr.className = 'alert-row';
    cell(tr, a.id, 'num');
    cell(tr, formatTime(a.time));
    cell(tr, a.severity, `severity ${a.severity}`);
    cell(tr, a.rule);
    cell(tr, a.policy);
    cell(tr, a.summary);
    const td = cell(tr, '');
    const link = document.createElement('button');
    link.type = 'button';
    link.className = 'link';
    link.textContent = `seq ${a.seq}`;
    link.addEventListener('click', () => { selectTab('events'); openEvent(a.seq).catch(fail); });
    td.appendChild(link);
    body.appendChild(tr);
  }
  alertsCursor = page.next_cursor;
  $('alerts-more').disabled = !alertsCursor;
  const n = body.rows.length;
  $('alerts-summary').textContent = n ? `${n} alert${n === 1 ? '' : 's'} shown, newest first${alertsCursor ? '; more with "More"' : ''}.` : 'No alert has been raised.';
  $('tab-alerts').textContent = n ? `Alerts (${n}${alertsCursor ? '+' : ''})` : 'Alerts';
}

// ---------------------------------------------------------------------------------------
// Integrity: checkpoint and chain
// ---------------------------------------------------------------------------------------

function facts(target, rows) {
  target.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    target.append(dt, dd);
  }
}

async function loadCheckpoint() {
  const chip = $('checkpoint-chip');
  try {
    const cp = await api('/v1/checkpoint');
    chip.textContent = `checkpoint #${cp.number}: ${cp.size} records signed`;
    chip.className = 'chip ok';
    facts($('checkpoint-facts'), [['number', cp.number], ['size (records)', cp.size], ['root (base64)', cp.root], ['origin', cp.origin]]);
    $('checkpoint-note').textContent = cp.note;
  } catch (e) {
    if (e.status !== 404) throw e;
    chip.textContent = 'no checkpoint signed yet';
    chip.className = 'chip warn';
    facts($('checkpoint-facts'), [['status', 'No checkpoint has been signed yet.']]);
    $('checkpoint-note').textContent = '';
  }
}

async function verifyChain() {
  const out = $('verify-result');
  const chip = $('chain-chip');
  out.className = 'verify';
  out.textContent = 'Verifying…';
  const v = await api('/v1/verify');
  out.dataset.status = v.status;
  if (v.status === 'ok') {
    out.className = 'verify ok';
    out.textContent = `ok: records ${v.from} to ${v.to} (${v.records}) are intact, ${v.checkpoints} signed checkpoint${v.checkpoints === 1 ? '' : 's'} checked.${v.warning ? ` Warning: ${v.warning}.` : ''}`;
    chip.textContent = `chain ok (${v.records} records)`;
    chip.className = v.warning ? 'chip warn' : 'chip ok';
  } else {
    out.className = 'verify failed';
    out.textContent = `DAMAGED at seq ${v.seq} (${v.kind}): ${v.detail}`;
    chip.textContent = `chain damaged at seq ${v.seq}`;
    chip.className = 'chip failed';
  }
}

// ---------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------

function selectTab(name) {
  for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.dataset.tab === name);
  for (const panel of document.querySelectorAll('.panel')) panel.hidden = panel.id !== `panel-${name}`;
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const k = $('key').value.trim();
    if (k) signIn(k);
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); search().catch(fail); });
  $('search-form').addEventListener('reset', () => setTimeout(() => search().catch(fail), 0));
  $('next-page').addEventListener('click', () => { paging.page += 1; showPage().catch(fail); });
  $('prev-page').addEventListener('click', () => { paging.page = Math.max(0, paging.page - 1); showPage().catch(fail); });
  $('detail-close').addEventListener('click', () => { $('detail').hidden = true; });
  for (const b of document.querySelectorAll('.export-button')) {
    b.addEventListener('click', () => exportEvents(b.dataset.format).catch(fail));
  }
  $('chart-form').addEventListener('submit', (ev) => { ev.preventDefault(); drawChart().catch(fail); });
  for (const b of document.querySelectorAll('.preset')) b.addEventListener('click', () => presetChart(Number(b.dataset.hours)));
  $('alerts-refresh').addEventListener('click', () => loadAlerts(true).catch(fail));
  $('alerts-more').addEventListener('click', () => loadAlerts(false).catch(fail));
  $('verify-button').addEventListener('click', () => verifyChain().catch(fail));
  for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => selectTab(tab.dataset.tab));
  if (key()) enterApp(); else signOut('');
});

// For checks from the browser's console (and the browser tests): the proof check alone.
window.auditgate = { verifyBundle, canonicalJson };
