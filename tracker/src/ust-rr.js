// Entry of ust-rr.min.js: the default tracker plus the lazily loaded full-page recorder.
import { S } from './state.js';
import { boot } from './core.js';
import { loadRecorder } from './recorder-hook.js';
import { loadSnapshotter } from './recorder/hook.js';

S.onAllowed.push(loadRecorder);
S.onAllowed.push(loadSnapshotter); // sites without full-page recording: pointer-mode snapshots
boot();
