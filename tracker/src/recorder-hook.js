// ust-rr.min.js only: loads the full-page recorder chunk lazily and hands it a narrow interface.
import { S } from './state.js';
import { W, D, now } from './util.js';
import { push } from './transport.js';
import { canRecord } from './api.js';

export const RECORDER_FILE = 'ust-rr-recorder.min.js';

export function loadRecorder() {
  if (!S.cfg.fullpage || !canRecord()) return;
  // The recorder chunk reads this when it runs. `emit` queues one recorder event for the current
  // page view in the batch array `kind` (the recordings work names it and adds it to the wire format).
  W.UST.__rr = {
    keyboard: !!S.cfg.keyboard,
    canRecord,
    pid: () => S.page.pid,
    emit: (kind, event) => { if (canRecord()) push(kind, { pid: S.page.pid, t: now(), e: event }); },
  };
  const script = D.createElement('script');
  script.async = true;
  script.src = S.base + '/server/' + RECORDER_FILE + S.v;
  (D.head || D.documentElement).appendChild(script);
}
