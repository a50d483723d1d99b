// What the visitor does: page views (also SPA route changes), time, scroll depth and pointer data.
import { S } from './state.js';
import { W, D, now, rid, on, guard, tab } from './util.js';
import { selector } from './selector.js';
import { addPage, touch, push, maybeFlush, flushOnHide } from './transport.js';
import { addTag } from './api.js';

const IDLE_MS = 15000; // no input for 15 s: visible, but no longer "active"
let lastInput = now();
let lastTick = now();
let visible = D.visibilityState === 'visible';
let routeKey = '';
const wasPassword = new WeakSet();

const px = (v) => Math.max(0, Math.min(100000, Math.round(v)));
const frac = (part, whole) => (whole > 0 ? Math.round(Math.min(1, Math.max(0, part / whole)) * 1000) / 1000 : 0);

// Hash changes are anchors, not pages, unless the hash looks like a route (#/… or #!…).
const keyOf = (href) => href.replace(/#(?![/!]).*$/, '');

export function newPage(t, referrer) {
  const page = {
    pid: rid(12), href: W.location.href, title: D.title, referrer, t,
    vw: W.innerWidth, vh: W.innerHeight, dw: 0, dh: 0, active_ms: 0, visible_ms: 0, scroll: 0,
  };
  S.page = page;
  routeKey = keyOf(page.href);
  addPage(page);
  measure();
  return page;
}

function measure() {
  const p = S.page;
  const root = D.documentElement;
  const dh = px(Math.max(root.scrollHeight, D.body ? D.body.scrollHeight : 0));
  const dw = px(root.scrollWidth);
  const seen = Math.min(100, Math.round(((W.scrollY + W.innerHeight) / (dh || 1)) * 100));
  if (D.title && p.title !== D.title && p.visible_ms < 10000) p.title = D.title; // SPAs set titles late
  if (seen > p.scroll || dh !== p.dh || dw !== p.dw) {
    p.scroll = Math.max(p.scroll, seen);
    p.dh = dh;
    p.dw = dw;
    touch(p.pid);
  }
}

export function tick() {
  if (S.phase !== 1) return;
  const t = now();
  const elapsed = Math.min(t - lastTick, 5000); // a sleeping laptop is not time on the page
  lastTick = t;
  const p = S.page;
  if (visible) {
    p.visible_ms += elapsed;
    if (t - lastInput < IDLE_MS) p.active_ms += elapsed;
    touch(p.pid);
  }
  visible = D.visibilityState === 'visible';
  measure();
}

function route() {
  if (S.phase !== 1 || keyOf(W.location.href) === routeKey) return;
  tick();
  newPage(now(), S.page.href);
}

const recording = (setting) => S.phase === 1 && !!S.cfg.record && (!setting || S.cfg[setting] !== false) &&
  tab.get('ust-norec') !== '1';

const point = (k, extra) => push('pointer', Object.assign({ pid: S.page.pid, t: now(), k }, extra));

function debounce(ms, fn) {
  let timer = 0;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(guard(fn), ms);
  };
}

function onClick(e) {
  const target = e.target && e.target.nodeType === 1 ? e.target : null;
  if (!target) return;
  const tagged = target.closest('[data-ust_click_tag]');
  if (tagged) addTag(tagged.getAttribute('data-ust_click_tag'));
  if (!recording('clicks')) return;
  const r = target.getBoundingClientRect();
  let cx = e.clientX;
  let cy = e.clientY;
  if (!e.detail && !cx && !cy) { // keyboard "click": no pointer position, use the element's centre
    cx = r.left + r.width / 2;
    cy = r.top + r.height / 2;
  }
  point('click', {
    x: px(cx + W.scrollX), y: px(cy + W.scrollY), sel: selector(target),
    ox: frac(cx - r.left, r.width), oy: frac(cy - r.top, r.height), vw: W.innerWidth,
  });
}

function onChange(e) {
  const el = e.target;
  if (!el || !/^(INPUT|SELECT|TEXTAREA)$/.test(el.nodeName) || !recording()) return;
  const type = String(el.type || '').toLowerCase();
  // A "show password" toggle turns a password field into a text field: it stays a password field.
  if (wasPassword.has(el) || type === 'password' || type === 'hidden' || type === 'file' ||
      /password|^cc-/.test(el.autocomplete || '') || el.closest('.noRecord')) return;
  const value = (type === 'checkbox' || type === 'radio' ? (el.checked ? 'on' : 'off') : String(el.value)).slice(0, 256);
  point('input', { sel: selector(el), value: S.cfg.keyboard ? value : '\u2022'.repeat(value.length) });
}

function onSelection() {
  const selection = W.getSelection();
  const length = selection ? String(selection).length : 0;
  if (!length || !recording()) return;
  const node = selection.anchorNode;
  const el = node && (node.nodeType === 1 ? node : node.parentElement);
  if (!el || el.closest('.noRecord')) return;
  point('select', { sel: selector(el), text_len: length });
}

export function startCapture() {
  const input = () => { lastInput = now(); };
  for (const type of ['mousemove', 'keydown', 'scroll', 'touchstart', 'click']) on(W, type, input, true);

  on(D, 'click', onClick, true);
  on(D, 'change', onChange, true);
  on(D, 'focusin', (e) => { if (e.target && e.target.type === 'password') wasPassword.add(e.target); }, true);
  on(D, 'selectionchange', debounce(600, onSelection));

  let lastMove = 0;
  on(D, 'mousemove', (e) => {
    const t = now();
    if (t - lastMove < 100 || !recording('moves')) return; // at most 10 points a second
    lastMove = t;
    point('move', { x: px(e.pageX), y: px(e.pageY), vw: W.innerWidth });
  }, true);

  let scrollTimer = 0;
  on(W, 'scroll', () => {
    measure();
    if (scrollTimer) return;
    scrollTimer = setTimeout(guard(() => { // at most 4 a second
      scrollTimer = 0;
      if (recording()) point('scroll', { y: px(W.scrollY), vw: W.innerWidth });
    }), 250);
  });
  on(W, 'resize', debounce(300, () => {
    if (recording()) point('resize', { w: px(W.innerWidth), h: px(W.innerHeight) });
  }));

  const history = W.history;
  for (const name of ['pushState', 'replaceState']) {
    const original = history[name];
    history[name] = function () {
      const result = original.apply(this, arguments);
      guard(route)();
      return result;
    };
  }
  on(W, 'popstate', route);
  on(W, 'hashchange', route);

  const hide = () => {
    tick();
    flushOnHide();
  };
  on(D, 'visibilitychange', () => {
    if (D.visibilityState === 'hidden') hide();
    else { tick(); }
  });
  on(W, 'pagehide', hide);
  route(); // the page may have changed its URL while the settings were loading
  setInterval(guard(() => {
    if (W.UST_NO_TRACK) return S.stop();
    tick();
    maybeFlush();
  }), 1000);
}
