// Start-up: find the server, honour opt-out/UST_NO_TRACK, fetch the site's settings, then start
// capturing — and send only once consent (when the site asks for it) is given.
import { S } from './state.js';
import { W, D, now, rid, guard, hook, local, tab } from './util.js';
import { install } from './api.js';
import { applyOptParams, optedOut, doNotTrack, isMobile, sampled, stripper, campaign } from './privacy.js';
import { newPage, startCapture } from './capture.js';
import { clear, restore } from './transport.js';
import { askConsent } from './consent.js';

// Read while this script runs: document.currentScript is null in any later callback.
const CURRENT = D.currentScript;

function scriptSrc() {
  if (CURRENT && CURRENT.src) return CURRENT.src;
  const found = D.querySelectorAll('script[src*="/server/ust"]');
  return found.length ? found[found.length - 1].src : '';
}

function stop() {
  S.phase = 2;
  S.allowed = false;
  clear();
}
S.stop = stop;

function sessionToken() {
  let sid = tab.get('ust-sid');
  if (!/^[\w-]{16,64}$/.test(sid || '')) {
    sid = rid(22);
    tab.set('ust-sid', sid);
    tab.del('ust-session');
    tab.del('ust-drop');
  }
  return sid;
}

function allow() {
  // The session's first values (landing page, referrer, campaign) are those of its first page.
  let session = null;
  try { session = JSON.parse(tab.get('ust-session')); } catch (e) { /* none yet */ }
  if (!session) {
    const href = W.location.href;
    let tz = '';
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* old engine */ }
    session = {
      screen: [W.screen.width, W.screen.height], lang: String(W.navigator.language || '').slice(0, 35),
      tz: tz.slice(0, 64), referrer: S.strip(D.referrer).slice(0, 2048), landing: S.strip(href).slice(0, 2048),
    };
    if (S.cfg.utm !== false) Object.assign(session, campaign(href));
    tab.set('ust-session', JSON.stringify(session));
  }
  S.session = session;
  S.allowed = true;
  restore();
  for (const fn of S.onAllowed) guard(fn)();
}

function start(cfg) {
  if (S.phase > 1) return;
  if (!cfg || typeof cfg !== 'object') return stop();
  S.cfg = cfg;
  S.strip = stripper(cfg.strip);
  if ((cfg.dnt && doNotTrack()) || (cfg.mobile === false && isMobile())) return stop();
  S.sid = sessionToken();
  const percent = cfg.sample == null ? 100 : Number(cfg.sample);
  // ust-drop: the server already said it drops this tab's data (sampled out, bot, ignored IP…).
  if (!sampled(S.sid, percent) || tab.get('ust-drop') || hook('onTrackingStarted') === false) return stop();
  S.phase = 1;
  startCapture();
  const answer = local.get('ust-consent');
  if (!cfg.consent || answer === '1') return allow();
  if (answer === '0') return stop();
  askConsent(cfg, (yes) => {
    if (yes) {
      local.set('ust-consent', '1');
      allow();
      hook('onGDPRAccepted');
    } else {
      if (yes === false) local.set('ust-consent', '0');
      stop();
      if (yes === false) hook('onGDPRDeclined');
    }
  });
}

// Installs the API on window.UST and replays the stub's queue. A second copy of the snippet (page +
// tag manager) replaces UST with a fresh stub: its script adopts that stub into the running tracker.
function adopt() {
  const U = W.UST && typeof W.UST === 'object' ? W.UST : (W.UST = {});
  install(U);
  const queued = Array.isArray(W.UST_CT) ? W.UST_CT : [];
  // The stub's addTag pushes to UST_CT: from now on that is a direct call.
  W.UST_CT = { push: guard((item) => U.addTag(item)) };
  return { U, queued };
}

export const boot = guard(() => {
  if (typeof W.UST_ADOPT === 'function') return W.UST_ADOPT();
  W.UST_ADOPT = guard(() => adopt().queued.forEach((item) => W.UST.addTag(item)));
  const src = scriptSrc();
  const at = src.lastIndexOf('/server/');
  S.base = at > 0 ? src.slice(0, at) : '';
  S.v = (src.match(/\?[^#]*/) || [''])[0];
  applyOptParams();
  const { U, queued } = adopt();
  if (W.UST_NO_TRACK || optedOut() || !S.base || !/^https?:$/.test(W.location.protocol)) {
    stop();
    hook('onLoaded');
    return;
  }
  S.site = W.location.hostname;
  const started = typeof U.s === 'number' && U.s <= now() && now() - U.s < 36e5 ? U.s : now();
  newPage(started, D.referrer);
  for (const item of queued) U.addTag(item);
  hook('onLoaded');
  fetch(S.base + '/api/collect/config?site=' + encodeURIComponent(S.site), { credentials: 'omit', mode: 'cors' })
    .then((r) => (r.ok ? r.json() : null))
    .then(guard(start), guard(stop));
});
