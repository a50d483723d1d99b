// Entry of ust.min.js, the default tracker.
import { boot } from './core.js';

boot();
