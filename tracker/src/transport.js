// Batches captured data into /api/collect requests of at most 60 KB, sends them in order, retries
// 5xx/network failures with backoff, and keeps unsent batches in localStorage for the next page.
import { S } from './state.js';
import { W, now, bytes, local, tab, hook, warn, guard } from './util.js';

// fetch(keepalive) allows 64 KB in flight per page; 60 KB leaves room for a second small request.
const LIMIT = 60000;
const KEEPALIVE_QUOTA = 64000;
const MAX = { events: 200, tags: 100, pointer: 2000 };
const MAX_PAGES = 50;
const HOLD = 5000;            // items held in memory while the consent question is open
const STORE_LIMIT = 200000;   // localStorage is the site's too: never take more than 200 KB of it
const STORE_MAX_AGE = 7 * 864e5;
const STORE_PREFIX = 'ust-q:';

const pages = new Map();      // pid → live page record of this page load
const dirty = new Set();      // pids whose numbers changed since they were last put in a batch
const fresh = new Set();      // pids never put in a batch (a new page view goes out within a second)
const announced = new Set();  // pids whose onPageViewCreated has fired
const buffer = [];            // [kind, item] in arrival order
let queue = [];               // batches built and not yet answered
const inflight = new Set();
let inflightBytes = 0;
let busy = false;
let stored = false;
let lastCut = 0;
let backoff = 0;
let retryAt = 0;

export function addPage(page) {
  pages.set(page.pid, page);
  dirty.add(page.pid);
  fresh.add(page.pid);
}

export const touch = (pid) => dirty.add(pid);

export function push(kind, item) {
  if (S.allowed || buffer.length < HOLD) buffer.push([kind, item]);
}

export function clear() {
  buffer.length = 0;
  dirty.clear();
  queue = [];
}

const clip = (text, max) => String(text || '').slice(0, max);

function pageOut(p) {
  return {
    pid: p.pid, url: clip(S.strip(p.href), 2048), title: clip(p.title, 512),
    referrer: clip(p.referrer && S.strip(p.referrer), 2048), t: p.t, vw: p.vw, vh: p.vh, dw: p.dw, dh: p.dh,
    active_ms: p.active_ms, visible_ms: p.visible_ms, scroll: p.scroll,
  };
}

function nextBatchId() {
  const n = (parseInt(tab.get('ust-n'), 10) || 0) + 1;
  tab.set('ust-n', String(n));
  return S.sid + '-' + String(n).padStart(4, '0');
}

// Moves everything buffered into batches. Each batch carries the pages its items refer to (and the
// session until the server has acknowledged it), so batches can arrive in any order.
function cut() {
  lastCut = now();
  if (!buffer.length && !dirty.size) return;
  const items = [...dirty].map((pid) => ['pages', pid]).concat(buffer.splice(0));
  dirty.clear();
  fresh.clear();
  let batch;
  let size;
  let pids;
  const open = () => {
    batch = { v: 1, site: S.site, sid: S.sid, bid: nextBatchId(), sent: now(), pages: [], events: [], tags: [], pointer: [] };
    if (S.session && tab.get('ust-sa') !== S.sid) batch.session = S.session;
    size = bytes(JSON.stringify(batch)) + 16;
    pids = new Set();
    queue.push(batch);
  };
  const pageCost = (pid) => (pids.has(pid) ? 0 : bytes(JSON.stringify(pageOut(pages.get(pid)))) + 1);
  open();
  for (const [kind, item] of items) {
    const pid = kind === 'pages' ? item : item.pid;
    if (!pages.has(pid)) continue;
    const own = kind === 'pages' ? 0 : bytes(JSON.stringify(item)) + 1;
    let cost = own + pageCost(pid);
    const full = kind !== 'pages' && (batch[kind] || []).length >= (MAX[kind] || 2000);
    if (pids.size && (size + cost > LIMIT || full || (!pids.has(pid) && pids.size >= MAX_PAGES))) {
      open();
      cost = own + pageCost(pid);
    }
    if (!pids.has(pid)) {
      pids.add(pid);
      batch.pages.push(pageOut(pages.get(pid)));
    }
    if (kind !== 'pages') (batch[kind] = batch[kind] || []).push(item);
    size += cost;
  }
}

export function save() {
  if (!S.allowed || !S.sid) return;
  const key = STORE_PREFIX + S.sid;
  const keep = [];
  let total = 0;
  for (let i = queue.length - 1; i >= 0; i--) {
    total += JSON.stringify(queue[i]).length;
    if (total > STORE_LIMIT) break;
    keep.unshift(queue[i]);
  }
  if (keep.length) local.set(key, JSON.stringify(keep));
  else if (stored) local.del(key);
  stored = keep.length > 0;
}

// Batches left by earlier pages (this tab's or a closed tab's) go out first; batch ids make a
// batch that did arrive after all harmless to send again.
export function restore() {
  const known = new Set(queue.map((b) => b.bid));
  const older = [];
  for (const key of local.keys()) {
    if (key.indexOf(STORE_PREFIX) !== 0) continue;
    let list = [];
    try { list = JSON.parse(local.get(key)) || []; } catch (e) { /* damaged: drop */ }
    local.del(key);
    for (const b of list) {
      if (b && b.bid && !known.has(b.bid) && now() - b.sent < STORE_MAX_AGE) {
        known.add(b.bid);
        older.push(b);
      }
    }
  }
  queue = older.concat(queue);
  if (older.length) save();
}

// keepalive only when the page is going away: Chrome counts a keepalive request against its 64 KB
// quota until it completes. A plain request cut off by navigation is in localStorage (flushOnHide).
function send(batch, hide) {
  inflight.add(batch.bid);
  batch.sent = now();
  const body = JSON.stringify(batch);
  const size = hide ? bytes(body) : 0;
  const url = S.base + '/api/collect';
  const beacon = () => (hide && W.navigator.sendBeacon && W.navigator.sendBeacon(url, body) ? -1 : 0);
  let request;
  if (inflightBytes + size > KEEPALIVE_QUOTA) {
    request = Promise.resolve(beacon());
  } else {
    inflightBytes += size;
    request = fetch(url, { method: 'POST', body, keepalive: hide, credentials: 'omit', mode: 'cors' })
      .then((r) => (r.headers.get('X-UXWizz-Dropped') ? 1 : r.status), beacon)
      .then((status) => { inflightBytes -= size; return status; });
  }
  return request.then((status) => {
    inflight.delete(batch.bid);
    return status;
  });
}

// true: go on with the next batch. -1 means handed to sendBeacon: fate unknown, kept for a resend.
// 1 means the server dropped it on purpose (sampled out, bot, ignored IP…): so it will every later batch.
function settle(batch, status) {
  if (status === -1) return false;
  if (status === 1 && batch.sid === S.sid) {
    tab.set('ust-drop', '1');
    S.stop();
    return false;
  }
  if (!status || status === 429 || status >= 500) {
    backoff = Math.min(backoff ? backoff * 2 : 2000, 60000);
    retryAt = now() + backoff;
    save();
    return false;
  }
  backoff = 0;
  queue = queue.filter((b) => b !== batch);
  if (stored) save();
  if (status < 300) {
    acknowledged(batch);
  } else if (status === 404) {
    warn('this site is not registered on the UXWizz server; tracking stopped');
    S.stop();
    return false;
  } else {
    warn('batch rejected with HTTP ' + status);
  }
  return true;
}

function acknowledged(batch) {
  if (batch.sid === S.sid && S.phase === 1) {
    if (tab.get('ust-sa') !== S.sid) {
      tab.set('ust-sa', S.sid);
      hook('onSessionCreated', S.sid);
    }
    for (const p of batch.pages) {
      if (pages.has(p.pid) && !announced.has(p.pid)) {
        announced.add(p.pid);
        hook('onPageViewCreated', S.sid, p.pid);
      }
    }
  }
  hook('onDataSent', batch);
}

// Sends queued batches one at a time, in order; on hide, fires all of them at once.
export function pump(hide, force) {
  if (!S.allowed) return;
  if (hide) {
    for (const b of queue) if (!inflight.has(b.bid)) send(b, true).then(guard((status) => settle(b, status)));
    return;
  }
  if (busy || (!force && now() < retryAt)) return;
  const next = queue.find((b) => !inflight.has(b.bid));
  if (!next) return;
  busy = true;
  send(next, false).then(guard((status) => {
    busy = false;
    if (settle(next, status)) pump();
  }));
}

// Called every second: a new page view goes out at once, other data every 5 s, time-only updates every 30 s.
export function maybeFlush() {
  if (!S.allowed) return;
  const wait = fresh.size ? 0 : buffer.length ? 5000 : dirty.size ? 30000 : Infinity;
  if (now() - lastCut >= wait) cut();
  pump();
}

export function flushNow() {
  if (!S.allowed) return;
  cut();
  pump(false, true);
}

export function flushOnHide() {
  if (!S.allowed) return;
  cut();
  save();
  pump(true);
}
