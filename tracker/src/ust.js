// Entry of ust.min.js, the default tracker.
import { S } from './state.js';
import { boot } from './core.js';
import { loadSnapshotter } from './recorder/hook.js';

S.onAllowed.push(loadSnapshotter); // pointer-mode page snapshots for replay (lazy chunk)
boot();
