// ab.js: applies the site's running A/B tests on the visitor's page (served at /server/ab/<domain>.ab.js).
//
// The server wraps this bundle as `(function(UST_AB_TESTS){…bundle…})([…tests…])`, so the tests are a
// JSON literal and nothing leaks into the page's globals. Per test: pick a variant once per browser
// (weighted random, kept in localStorage "ust-ab-<test id>"), hide the body (opacity 0) until the
// variant's changes are applied or HIDE_MS passed, whichever comes first, keep applying changes to
// elements that appear later (MutationObserver, for at most OBSERVE_MS), and add the session tag
// AB-<test id>-<variant key> through UST.addTag (the snippet's stub queues it until the tracker loads).
// Opted-out visitors (?ust-opt-out or the tracker's flag) see the default page and get no tag.
// Nothing here may throw into the page: every entry point is wrapped.
/* global UST_AB_TESTS */

const HIDE_MS = 800;
const OBSERVE_MS = 10000;
const W = window;
const D = document;
const HIDE_ID = 'ust-ab-hide';

function safe(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (e) {
      try { if (W.console) W.console.warn('uxwizz ab.js:', e); } catch (e2) { /* nothing */ }
    }
    return undefined;
  };
}

function store(key, value) {
  try {
    if (value === undefined) return W.localStorage.getItem(key);
    W.localStorage.setItem(key, value);
  } catch (e) { /* storage blocked: the assignment lasts for this page only */ }
  return null;
}

function optedOut() {
  const query = W.location.search;
  if (/[?&]ust-opt-in(=|&|$)/.test(query)) return false;
  return /[?&]ust-opt-out(=|&|$)/.test(query) || store('ust-opt-out') === '1';
}

// `*` is the only wildcard; the pattern matches the whole path.
function pageMatches(pattern) {
  if (!pattern) return true;
  const re = new RegExp('^' + String(pattern).split('*').map((part) =>
    part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
  return re.test(W.location.pathname);
}

function pick(test) {
  const key = 'ust-ab-' + test.id;
  const kept = store(key);
  const variants = test.variants;
  for (let i = 0; i < variants.length; i++) {
    if (variants[i].key === kept) return variants[i];
  }
  let total = 0;
  for (let i = 0; i < variants.length; i++) total += Math.max(0, variants[i].weight);
  if (total <= 0) return null;
  let roll = Math.random() * total;
  let chosen = variants[variants.length - 1];
  for (let i = 0; i < variants.length; i++) {
    roll -= Math.max(0, variants[i].weight);
    if (roll < 0 && variants[i].weight > 0) { chosen = variants[i]; break; }
  }
  store(key, String(chosen.key));
  return chosen;
}

// One change on one element; marks it so a later mutation does not apply it twice.
function applyTo(el, change, mark) {
  if (el.__ustAb && el.__ustAb[mark]) return;
  (el.__ustAb = el.__ustAb || {})[mark] = 1;
  if (typeof change.text === 'string') el.textContent = change.text; // text, never HTML
  const styles = change.styles || {};
  for (const name in styles) {
    if (Object.prototype.hasOwnProperty.call(styles, name)) el.style.setProperty(name, styles[name], 'important');
  }
  const attributes = change.attributes || {};
  for (const name in attributes) {
    if (Object.prototype.hasOwnProperty.call(attributes, name)) el.setAttribute(name, attributes[name]);
  }
}

// Applies every pending change whose elements exist; returns how many are still waiting for one.
function applyPending(pending) {
  let waiting = 0;
  for (let i = 0; i < pending.length; i++) {
    const item = pending[i];
    let found;
    try {
      found = D.querySelectorAll(item.change.selector);
    } catch (e) {
      item.bad = true; // an invalid selector never matches: do not keep the page hidden for it
      continue;
    }
    for (let j = 0; j < found.length; j++) applyTo(found[j], item.change, item.mark);
    if (found.length) item.done = true;
    if (!item.done && !item.bad) waiting++;
  }
  return waiting;
}

function hide() {
  const style = D.createElement('style');
  style.id = HIDE_ID;
  style.textContent = 'body{opacity:0 !important}';
  (D.head || D.documentElement).appendChild(style);
}

function reveal() {
  const style = D.getElementById(HIDE_ID);
  if (style && style.parentNode) style.parentNode.removeChild(style);
}

function addTag(tag) {
  const U = W.UST;
  if (U && typeof U.addTag === 'function') {
    U.addTag(tag);
    return true;
  }
  return false;
}

// The snippet may come after this script and would replace a stub made here (`UST_CT = []`), so tags
// wait for the snippet: now if UST exists, else at DOMContentLoaded, else a stub of our own.
function sendTags(tags) {
  if (!tags.length) return;
  const flush = safe(() => {
    if (!tags.length) return;
    if (!W.UST) {
      W.UST_CT = W.UST_CT || [];
      W.UST = { s: Date.now(), addTag: function (t) { W.UST_CT.push(t); } };
      W.UST.addEvent = W.UST.addTag;
    }
    while (tags.length && addTag(tags[0])) tags.shift();
  });
  if (W.UST) flush();
  else if (D.readyState === 'loading') D.addEventListener('DOMContentLoaded', flush);
  else flush();
}

const run = safe(() => {
  const tests = typeof UST_AB_TESTS !== 'undefined' && Array.isArray(UST_AB_TESTS) ? UST_AB_TESTS : [];
  if (!tests.length || optedOut()) return;
  const pending = [];
  const tags = [];
  const chosen = {};
  for (let i = 0; i < tests.length; i++) {
    const test = tests[i];
    if (!test || !Array.isArray(test.variants) || !test.variants.length || !pageMatches(test.page)) continue;
    const variant = pick(test);
    if (!variant) continue;
    chosen[test.id] = variant.key;
    tags.push('AB-' + test.id + '-' + variant.key);
    const changes = variant.changes || [];
    for (let j = 0; j < changes.length; j++) {
      if (changes[j] && changes[j].selector) pending.push({ change: changes[j], mark: test.id + '.' + j });
    }
  }
  W.UST_AB = { variants: chosen }; // read-only report of the assignment, for the site's own scripts
  sendTags(tags);
  if (!pending.length) return;
  // Loaded late (async, a tag manager): the page is already visible, so hiding it now would itself flash.
  if (D.readyState === 'loading') hide();
  let revealed = false;
  let observer = null;
  const finish = safe(() => {
    if (!revealed) { revealed = true; reveal(); }
  });
  const stop = safe(() => {
    if (observer) observer.disconnect();
    observer = null;
  });
  // Keeps watching after everything applied once: later elements (a second .cta, an SPA view) get
  // the change too, until OBSERVE_MS.
  const step = safe(() => {
    if (!applyPending(pending)) finish();
  });
  W.setTimeout(finish, HIDE_MS);
  W.setTimeout(stop, OBSERVE_MS);
  if (typeof W.MutationObserver === 'function') {
    observer = new W.MutationObserver(step);
    observer.observe(D.documentElement, { childList: true, subtree: true });
  }
  D.addEventListener('DOMContentLoaded', step);
  step();
});

run();
