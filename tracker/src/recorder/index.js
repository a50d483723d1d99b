// The full-page recorder chunk (ust-rr-recorder.min.js), loaded lazily by ust-rr.min.js.
//
// It talks to the tracker only through window.UST.__rr (see tracker/src/recorder-hook.js):
// `emit(kind, event)` queues one item for the current page view in the batch array `kind`.
// Two kinds are sent (tracker/ARCHITECTURE.md, "Recordings"):
//   dom        one rrweb event per item; events too large for a 64 KB keepalive request are
//              uploaded once to /api/collect/blob and travel as {ref, type, timestamp};
//   snapshots  {hash} of a pointer-mode page snapshot uploaded the same way (pages where the
//              visitor is sampled out of full-page mode, or where the recorder fell back).
// Privacy: password fields and .noRecord elements are blocked (never serialised), inputs are
// masked unless the site records keyboard input and unmasks them, nothing is sent before the
// tracker allows sending (consent).
// Cost bounds: pages with more than `max_nodes` elements, a full snapshot slower than
// SNAPSHOT_BUDGET_MS, or more than `max_mutations_per_second` sustained DOM mutations fall back
// to pointer mode, so recording never freezes the visitor's page.
import { record } from '@rrweb/record';
import { W, D, byteLength, fetchSettings, guard, pointerMode, privacy, tabGet, tabSet, uploadBlob, warn } from './common.js';

const INLINE_LIMIT = 48000; // bytes of one serialised event sent inline (the batch limit is 60 KB)
const SNAPSHOT_BUDGET_MS = 250;
const MODE_KEY = 'ust-rr-mode';

function start(rr, cfg) {
  // What the recorder decided and what it cost, readable by tests and benchmarks.
  const stats = rr.stats = { mode: null, reason: '', fullSnapshotMs: 0, pageSnapshotMs: 0 };
  const state = { mode: null, stop: null, pid: rr.pid(), mutations: 0, windowStart: performance.now() };
  const rules = privacy(rr, cfg);
  const deadline = Date.now() + cfg.max_minutes * 60000;

  const toPointer = (reason) => {
    if (state.stop) { try { state.stop(); } catch (e) { /* already stopped */ } }
    state.stop = null;
    if (state.mode === 'dom') rr.emit('dom', { type: 5, timestamp: Date.now(), data: { tag: 'ust-fallback', payload: { reason } } });
    state.mode = 'pointer';
    stats.mode = 'pointer';
    stats.reason = reason;
    if (reason === 'slow' || reason === 'busy') tabSet(MODE_KEY, 'pointer'); // the next pages would pay it again
    pointerMode(rr, cfg, stats, deadline);
  };

  const emitEvent = guard((event) => {
    if (!rr.canRecord() || Date.now() > deadline) {
      if (state.stop) { state.stop(); state.stop = null; }
      return;
    }
    const pid = rr.pid();
    if (pid !== state.pid) {
      // An SPA route change made a new page view: it starts with its own full snapshot, and
      // changes before that snapshot (relative to the old page) are dropped.
      state.pid = pid;
      state.awaiting = true;
      setTimeout(guard(() => record.takeFullSnapshot(true)), 0);
    }
    if (state.awaiting) {
      if (event.type !== 4 && event.type !== 2) return;
      if (event.type === 2) state.awaiting = false;
    }
    if (byteLength(JSON.stringify(event)) <= INLINE_LIMIT) {
      rr.emit('dom', event);
      return;
    }
    const stamp = { type: event.type, timestamp: event.timestamp };
    uploadBlob('rrweb', JSON.stringify(event.data), '').then((hash) => {
      rr.emit('dom', { ref: hash, type: stamp.type, timestamp: stamp.timestamp });
    }).catch((e) => { warn(e); toPointer('upload'); });
  });

  const sampledIn = () => {
    let mode = tabGet(MODE_KEY);
    if (mode !== 'dom' && mode !== 'pointer') {
      mode = Math.random() * 100 < cfg.fullpage_sample ? 'dom' : 'pointer';
      tabSet(MODE_KEY, mode);
    }
    return mode === 'dom';
  };

  if (!cfg.fullpage || !sampledIn()) return toPointer('sampled');
  if (D.getElementsByTagName('*').length > cfg.max_nodes) return toPointer('large');

  state.mode = 'dom';
  const began = performance.now();
  state.stop = record({
    emit: emitEvent,
    blockClass: 'noRecord',
    blockSelector: rules.blocked,
    ignoreClass: 'noRecord',
    maskAllInputs: rules.maskInputs,
    maskInputOptions: { password: true },
    maskTextSelector: rules.maskText ? '*' : null,
    inlineStylesheet: true,
    recordCanvas: false,
    collectFonts: false,
    recordCrossOriginIframes: false,
    sampling: { mousemove: 50, scroll: 150, media: 800, input: 'last' },
    slimDOMOptions: {
      script: true, comment: true, headFavicon: true, headWhitespace: true, headMetaSocial: true,
      headMetaRobots: true, headMetaHttpEquiv: true, headMetaAuthorship: true, headMetaVerification: true,
    },
  });
  stats.fullSnapshotMs = performance.now() - began;
  stats.mode = 'dom';
  if (stats.fullSnapshotMs > SNAPSHOT_BUDGET_MS) return toPointer('slow');

  // Mutation rate limit: a page that keeps rewriting itself (tickers, animations done in the DOM)
  // costs the recorder on every change; past the limit, recording drops to pointer mode.
  const observer = new MutationObserver(guard((records) => {
    if (state.mode !== 'dom') { observer.disconnect(); return; }
    state.mutations += records.length;
    const nowMs = performance.now();
    const span = nowMs - state.windowStart;
    if (span >= 2000) {
      const rate = (state.mutations * 1000) / span;
      state.mutations = 0;
      state.windowStart = nowMs;
      if (rate > cfg.max_mutations_per_second) {
        observer.disconnect();
        toPointer('busy');
      }
    }
  }));
  observer.observe(D.documentElement, { childList: true, subtree: true, attributes: true, characterData: true });
  setTimeout(guard(() => { if (state.stop) { state.stop(); state.stop = null; } }), cfg.max_minutes * 60000);
  return undefined;
}

const boot = guard(() => {
  const rr = W.UST && W.UST.__rr;
  if (!rr || !rr.canRecord()) return;
  fetchSettings()
    .then(guard((cfg) => { if (cfg && cfg.record) start(rr, cfg); }))
    .catch(warn);
});

boot();
