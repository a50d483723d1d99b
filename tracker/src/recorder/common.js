// What both recorder chunks share: guarded calls, blob uploads, the settings fetch, pointer mode.
//
// Pointer mode = the tracker's own pointer data (clicks, moves, scrolls…) replayed over a snapshot
// of the page: the page's HTML, serialised once per page version (snapshot.js) and uploaded only
// when the server does not have its hash yet; each page view names its snapshot in `snapshots`.
import { sha256 } from './sha256.js';
import { snapshotHtml } from './snapshot.js';

export const W = window;
export const D = document;
const encoder = new TextEncoder();
export const byteLength = (text) => encoder.encode(text).length;

// The server this chunk came from (its own <script src>, read while it runs).
const script = D.currentScript;
export const base = script && script.src ? script.src.replace(/\/server\/[^/]*$/, '') : '';

export function warn(...args) {
  try { console.warn('[UST recorder]', ...args); } catch (e) { /* no console */ }
}

// Every callback the page can trigger goes through guard(): the recorder never throws into the page.
export function guard(fn) {
  return function () {
    try { return fn.apply(this, arguments); } catch (e) { warn(e); return undefined; }
  };
}

export function tabGet(key) { try { return W.sessionStorage.getItem(key); } catch (e) { return null; } }
export function tabSet(key, value) { try { W.sessionStorage.setItem(key, value); } catch (e) { /* blocked */ } }

function hashText(text) {
  const bytes = encoder.encode(text);
  if (W.crypto && W.crypto.subtle && W.isSecureContext) {
    return W.crypto.subtle.digest('SHA-256', bytes).then((buf) =>
      Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join(''));
  }
  return Promise.resolve(sha256(bytes)); // http pages have no crypto.subtle
}

// Uploads a blob once: asks whether the server has it, sends it if not. Resolves to its hash.
export function uploadBlob(kind, body, url) {
  return hashText(body).then((hash) => {
    const site = encodeURIComponent(W.location.hostname);
    return fetch(base + '/api/collect/blob?site=' + site + '&kind=' + kind + '&hash=' + hash,
      { credentials: 'omit', mode: 'cors' })
      .then((r) => (r.ok ? r.json() : { have: false }))
      .then((answer) => {
        if (answer.have) return hash;
        const payload = JSON.stringify({ v: 1, site: W.location.hostname, kind, hash, url, body });
        return fetch(base + '/api/collect/blob', {
          method: 'POST', body: payload, credentials: 'omit', mode: 'cors', headers: { 'Content-Type': 'text/plain' },
        }).then((r) => {
          if (r.status >= 300) throw new Error('blob upload refused: HTTP ' + r.status);
          return hash;
        });
      });
  });
}

// GET /api/collect/recording: the site's recorder settings (tracker/ARCHITECTURE.md, "Recordings").
export function fetchSettings() {
  return fetch(base + '/api/collect/recording?site=' + encodeURIComponent(W.location.hostname),
    { credentials: 'omit', mode: 'cors' }).then((r) => (r.ok ? r.json() : null));
}

export function privacy(rr, cfg) {
  return {
    blocked: ['.noRecord', 'input[type=password]'].concat(cfg.block || []).join(','),
    maskInputs: cfg.mask_inputs || !rr.keyboard,
    maskText: !!cfg.mask_text,
  };
}

// Pointer mode: one snapshot per page version, a new one when an SPA route change made a new page view.
export function pointerMode(rr, cfg, stats, deadline) {
  const rules = privacy(rr, cfg);
  let pid = rr.pid();
  let sent = null;
  const snap = guard(() => {
    if (!rr.canRecord() || Date.now() > deadline) return;
    const began = performance.now();
    const html = snapshotHtml(rules);
    stats.pageSnapshotMs = performance.now() - began;
    if (!html || byteLength(html) > cfg.max_blob_bytes) return;
    const forPid = rr.pid();
    uploadBlob('html', html, W.location.href.slice(0, 2048)).then((hash) => {
      if (forPid === rr.pid() && hash !== sent) {
        sent = hash;
        rr.emit('snapshots', { hash });
      }
    }).catch(warn);
  });
  snap();
  const timer = setInterval(guard(() => {
    if (Date.now() > deadline || !rr.canRecord()) { clearInterval(timer); return; }
    if (rr.pid() !== pid) {
      pid = rr.pid();
      sent = null;
      setTimeout(snap, 300); // let the new route render first
    }
  }), 1000);
}
