// Loads the pointer-mode snapshot chunk (ust-snap.min.js) once the tracker may send, when the site
// records sessions. Kept tiny: it is part of ust.min.js (budget 8 KB gzip). The chunk talks to the
// tracker through the same narrow window.UST.__rr interface as the full-page recorder.
import { S } from '../state.js';
import { W, D, now } from '../util.js';
import { push } from '../transport.js';
import { canRecord } from '../api.js';

export function loadSnapshotter() {
  if (!S.cfg.record || !canRecord() || W.UST.__rr) return;
  W.UST.__rr = {
    keyboard: !!S.cfg.keyboard,
    canRecord,
    pid: () => S.page.pid,
    emit: (kind, event) => { if (canRecord()) push(kind, { pid: S.page.pid, t: now(), e: event }); },
  };
  const script = D.createElement('script');
  script.async = true;
  script.src = S.base + '/server/ust-snap.min.js' + S.v;
  (D.head || D.documentElement).appendChild(script);
}
