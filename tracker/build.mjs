// Builds the front-end bundles into static/build/ with esbuild: `npm run build` (or `-- --watch`).
//
// To add a bundle (a dashboard chart bundle, the rrweb player, the lazily loaded recorder chunk of
// ust-rr.min.js), add one line to BUNDLES below. Files named ust*.min.js are served to tracked sites
// at /server/<name> by core/tracker_assets.py; everything else is served at /static/build/<name>.
import * as esbuild from 'esbuild';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--outdir');
// --outdir DIR builds elsewhere (tests build into a temporary folder, never over the served bundle).
const OUT_DIR = outAt >= 0 ? resolve(args[outAt + 1]) : join(ROOT, 'static', 'build');

// entry (relative to the repository root) → output file name in static/build/.
const BUNDLES = [
  // Tracker: runs on visitors' pages; budget ≤ 8 KB gzip for ust.min.js (tests/unit/test_tracker_build.py).
  { entry: 'tracker/src/ust.js', out: 'ust.min.js' },
  { entry: 'tracker/src/ust-rr.js', out: 'ust-rr.min.js' },
  // The full-page recorder chunk loaded by ust-rr.min.js (RECORDER_FILE in tracker/src/recorder-hook.js).
  { entry: 'tracker/src/recorder/index.js', out: 'ust-rr-recorder.min.js' },
  // The pointer-mode page snapshot chunk loaded by both trackers (tracker/src/recorder/hook.js).
  { entry: 'tracker/src/recorder/pointer.js', out: 'ust-snap.min.js' },
  // A/B tests: served wrapped with the site's running tests at /server/ab/<domain>.ab.js (core/ab_script.py).
  { entry: 'tracker/src/ab/index.js', out: 'ust-ab.min.js' },
  //
  // Dashboard bundles (Chart.js, the rrweb player, …) go here, e.g.:
  // { entry: 'static/js/charts-entry.js', out: 'charts.min.js' },
  // The recording player with rrweb's replayer (and its CSS, written as player.min.css).
  { entry: 'static/js/player.js', out: 'player.min.js' },
  { entry: 'static/js/dashboard-charts.js', out: 'dashboard.min.js' },
];

// Shared options: one self-contained IIFE per bundle (no globals leak), modern browsers only.
const OPTIONS = {
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2018'],
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
};

const watch = args.includes('--watch');
await mkdir(OUT_DIR, { recursive: true });
for (const { entry, out, options } of BUNDLES) {
  const config = { ...OPTIONS, ...options, entryPoints: [join(ROOT, entry)], outfile: join(OUT_DIR, out) };
  if (watch) {
    const context = await esbuild.context(config);
    await context.watch();
  } else {
    await esbuild.build(config);
    console.log(`built ${relative(ROOT, join(OUT_DIR, out))}`);
  }
}
if (watch) console.log('watching tracker/src for changes…');
