// The pointer-mode snapshot chunk (ust-snap.min.js), loaded lazily by ust.min.js (and by
// ust-rr.min.js on sites without full-page recording) when the site records sessions.
// It only takes page snapshots (common.js, pointerMode); the tracker sends the pointer data.
import { W, fetchSettings, guard, pointerMode, warn } from './common.js';

const boot = guard(() => {
  const rr = W.UST && W.UST.__rr;
  if (!rr || !rr.canRecord() || rr.stats) return; // another chunk is already recording this page
  const stats = rr.stats = { mode: 'pointer', reason: 'default', fullSnapshotMs: 0, pageSnapshotMs: 0 };
  fetchSettings()
    .then(guard((cfg) => { if (cfg && cfg.record) pointerMode(rr, cfg, stats, Date.now() + cfg.max_minutes * 60000); }))
    .catch(warn);
});

boot();
