// Serialises the current page for pointer-mode replay: one inert HTML document per page version.
//
// Works on a clone, never on the live page. Scripts, frames and blocked elements (.noRecord,
// password fields, the site's block selectors) are removed or emptied; form values are masked
// (or dropped for passwords); text is masked when the site asks; URLs become absolute. The
// server sanitises again and never trusts this.
const MASK = '\u2022';

const mask = (text) => text.replace(/\S/g, MASK);

export function snapshotHtml({ blocked, maskInputs, maskText }) {
  const D = document;
  if (!D.documentElement) return '';
  const live = D.documentElement;
  const clone = live.cloneNode(true);
  // Values typed so far live in properties, not attributes: copy them (masked) onto the clone.
  const liveFields = live.querySelectorAll('input, textarea, select');
  const cloneFields = clone.querySelectorAll('input, textarea, select');
  for (let i = 0; i < liveFields.length && i < cloneFields.length; i++) {
    const field = liveFields[i];
    const copy = cloneFields[i];
    const type = (field.getAttribute('type') || '').toLowerCase();
    if (type === 'password' || type === 'hidden') {
      copy.removeAttribute('value');
      continue;
    }
    if (field.tagName === 'TEXTAREA') copy.textContent = maskInputs ? mask(field.value) : field.value;
    else if (field.tagName === 'SELECT') {
      if (maskInputs) for (const option of copy.querySelectorAll('option')) option.removeAttribute('selected');
    } else if (type === 'checkbox' || type === 'radio') {
      if (field.checked) copy.setAttribute('checked', ''); else copy.removeAttribute('checked');
    } else {
      copy.setAttribute('value', maskInputs ? mask(field.value || '') : field.value || '');
    }
  }
  let blockedNodes = [];
  try { blockedNodes = clone.querySelectorAll(blocked); } catch (e) { blockedNodes = clone.querySelectorAll('.noRecord, input[type=password]'); }
  for (const node of blockedNodes) {
    // Keep the box (layout stays right), drop everything inside and every attribute but size hints.
    const stub = D.createElement('div');
    stub.setAttribute('class', 'ust-blocked');
    const box = node.getAttribute('style');
    if (box) stub.setAttribute('style', box);
    node.replaceWith(stub);
  }
  for (const node of clone.querySelectorAll('script, noscript, iframe, frame, object, embed, template')) node.remove();
  for (const node of clone.querySelectorAll('[href], [src]')) {
    for (const name of ['href', 'src']) {
      const value = node.getAttribute(name);
      if (value == null) continue;
      try { node.setAttribute(name, new URL(value, D.baseURI).href); } catch (e) { node.removeAttribute(name); }
    }
  }
  if (maskText) {
    const walker = D.createTreeWalker(clone.querySelector('body') || clone, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentNode && node.parentNode.nodeName;
      if (parent !== 'STYLE') node.nodeValue = mask(node.nodeValue);
    }
  }
  // Same-origin stylesheets built by script (CSS-in-JS) exist only as CSSOM rules: inline them.
  const extra = [];
  for (const sheet of Array.from(D.styleSheets)) {
    if (sheet.href || !sheet.ownerNode || sheet.ownerNode.textContent) continue;
    try { extra.push(Array.from(sheet.cssRules, (rule) => rule.cssText).join('\n')); } catch (e) { /* cross-origin */ }
  }
  if (extra.length) {
    const style = D.createElement('style');
    style.textContent = extra.join('\n');
    (clone.querySelector('head') || clone).appendChild(style);
  }
  return '<!DOCTYPE html>' + clone.outerHTML;
}
