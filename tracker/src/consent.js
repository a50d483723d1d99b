// The consent pop-up: plain DOM, keyboard operable, focus moved in and given back, styles of its own.
import { D, guard } from './util.js';

const BASE = 'all:initial;box-sizing:border-box;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a1a1a;';

function element(tag, css, text) {
  const el = D.createElement(tag);
  el.style.cssText = BASE + css; // CSSOM, not a style attribute: allowed by strict host CSPs
  if (text) el.textContent = text; // the text comes from the server: never parsed as HTML
  return el;
}

function button(label, primary) {
  const b = element('button', 'display:inline-block;margin:0 8px 0 0;padding:8px 16px;border-radius:6px;cursor:pointer;' +
    'border:2px solid #1a5fb4;' + (primary ? 'background:#1a5fb4;color:#fff;' : 'background:#fff;color:#1a5fb4;'), label);
  b.type = 'button';
  // all:initial removes the browser's focus ring: draw one, a keyboard user must see where they are.
  b.addEventListener('focus', () => { b.style.outline = '3px solid #e66100'; b.style.outlineOffset = '2px'; });
  b.addEventListener('blur', () => { b.style.outline = 'none'; });
  return b;
}

// done(true) on accept, done(false) on decline, done(null) when dismissed with Escape (ask again later).
export function askConsent(cfg, done) {
  if (!D.body) {
    D.addEventListener('DOMContentLoaded', guard(() => askConsent(cfg, done)));
    return;
  }
  const previous = D.activeElement;
  const box = element('div', 'display:block;position:fixed;z-index:2147483647;left:16px;right:16px;bottom:16px;' +
    'max-width:520px;margin:0 auto;padding:16px 20px;background:#fff;border:1px solid #767676;border-radius:8px;' +
    'box-shadow:0 6px 28px rgba(0,0,0,.3);');
  box.id = 'ust-consent';
  box.setAttribute('role', 'dialog');
  box.setAttribute('aria-labelledby', 'ust-consent-text');
  const text = element('p', 'display:block;margin:0 0 12px;', cfg.consent_text ||
    'This site records anonymous usage data to improve itself. Allow?');
  text.id = 'ust-consent-text';
  const yes = button(cfg.consent_accept || 'Allow', true);
  const no = button(cfg.consent_decline || 'Decline', false);
  yes.id = 'ust-consent-accept';
  no.id = 'ust-consent-decline';
  box.append(text, yes, no);

  let answered = false;
  const close = guard((answer) => {
    if (answered) return;
    answered = true;
    box.remove();
    if (previous && previous !== D.body && previous.focus) previous.focus();
    done(answer);
  });
  yes.addEventListener('click', () => close(true));
  no.addEventListener('click', () => close(false));
  box.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(null); });
  D.body.appendChild(box);
  yes.focus();
}
