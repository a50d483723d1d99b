// A short, stable CSS selector for a clicked element: its id when unique, else a class/nth-of-type path.
const IDENT = /^[A-Za-z_][\w-]*$/;
// Generated class names (CSS modules, styled-components) change per build: useless in a selector.
const GENERATED = /\d{3}|^(css|sc|jsx|svelte)-/;

export function selector(el) {
  const parts = [];
  for (let depth = 0; el && el.nodeType === 1 && depth < 6; depth++) {
    const tag = el.localName;
    if (el.id && IDENT.test(el.id) && el.ownerDocument.getElementById(el.id) === el) {
      parts.unshift('#' + el.id);
      break;
    }
    if (tag === 'body' || tag === 'html') {
      parts.unshift(tag);
      break;
    }
    let part = tag;
    const classes = [];
    for (const c of el.classList) if (IDENT.test(c) && !GENERATED.test(c) && classes.length < 2) classes.push(c);
    if (classes.length) part += '.' + classes.join('.');
    const parent = el.parentElement;
    if (parent) {
      let count = 0;
      let index = 0;
      for (const sibling of parent.children) {
        if (sibling.localName === tag) {
          count++;
          if (sibling === el) index = count;
        }
      }
      if (count > 1) part += ':nth-of-type(' + index + ')';
    }
    parts.unshift(part);
    el = parent;
  }
  return parts.join(' > ').slice(0, 512);
}
