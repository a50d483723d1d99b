// Small helpers shared by every tracker module: ids, guarded calls, safe storage, hooks.
export const W = window;
export const D = document;
export const now = () => Date.now();

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

// Random token of n characters from [A-Za-z0-9_-] (6 bits of entropy each).
export function rid(n) {
  let out = '';
  for (const b of crypto.getRandomValues(new Uint8Array(n))) out += ALPHABET[b & 63];
  return out;
}

export function warn(...args) {
  try { console.warn('[UST]', ...args); } catch (e) { /* no console */ }
}

// Every entry point the host page can reach goes through guard(): the tracker never throws into it.
export function guard(fn) {
  return function () {
    try { return fn.apply(this, arguments); } catch (e) { warn(e); }
  };
}

// localStorage/sessionStorage throw in sandboxed iframes and some private modes: degrade to nothing.
function storage(name) {
  const area = () => { try { return W[name]; } catch (e) { return null; } };
  return {
    get(k) { try { return area().getItem(k); } catch (e) { return null; } },
    set(k, v) { try { area().setItem(k, v); } catch (e) { /* full or blocked */ } },
    del(k) { try { area().removeItem(k); } catch (e) { /* blocked */ } },
    keys() { try { return Object.keys(area()); } catch (e) { return []; } },
  };
}
export const local = storage('localStorage');
export const tab = storage('sessionStorage');

// Calls a hook the site assigned on window.UST (before or after load), shielding us from its errors.
export function hook(name, ...args) {
  const U = W.UST;
  const fn = U && U[name];
  if (typeof fn !== 'function') return undefined;
  try { return fn.apply(U, args); } catch (e) { warn('UST.' + name + ' threw', e); }
  return undefined;
}

const encoder = new TextEncoder();
export const bytes = (text) => encoder.encode(text).length;

export function on(target, type, fn, capture) {
  target.addEventListener(type, guard(fn), { capture: !!capture, passive: true });
}
