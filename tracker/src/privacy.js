// Visitor controls and site rules decided before anything is sent: opt-out, DNT, sampling, URL stripping.
import { W, local } from './util.js';
import { blake2b32 } from './hash.js';

const OPT_OUT = 'ust-opt-out';

// ?ust-opt-out / ?ust-opt-in on any tracked URL set or clear the flag (it outlives the tab).
export function applyOptParams() {
  const query = W.location.search;
  if (/[?&]ust-opt-out(=|&|$)/.test(query)) {
    local.set(OPT_OUT, '1');
    for (const key of local.keys()) if (key.indexOf('ust-q:') === 0) local.del(key); // unsent data too
  } else if (/[?&]ust-opt-in(=|&|$)/.test(query)) local.del(OPT_OUT);
}

export const optedOut = () => local.get(OPT_OUT) === '1';

// Global Privacy Control is the same wish in a newer form; both count when the site respects DNT.
export function doNotTrack() {
  const n = W.navigator;
  return [n.doNotTrack, W.doNotTrack, n.msDoNotTrack].some((v) => v === '1' || v === 'yes') ||
    n.globalPrivacyControl === true;
}

export function isMobile() {
  const n = W.navigator;
  if (n.userAgentData) return !!n.userAgentData.mobile;
  return /Mobi|Android|iPhone|iPod|iPad/i.test(n.userAgent);
}

// The server's rule, decided on the tab's session token: the same tabs are in the sample on both
// sides, for every page of the tab. Without BigInt (very old engines) the server decides alone.
export function sampled(sid, percent) {
  if (percent >= 100 || typeof BigInt === 'undefined') return true;
  return percent > 0 && blake2b32(sid) % 100 < percent;
}

const escape = (text) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

// A function removing the site's listed query parameters (`*` wildcards) and our own opt switches.
export function stripper(list) {
  const patterns = (list || []).map((p) => new RegExp('^' + escape(String(p)).replace(/\*/g, '.*') + '$', 'i'));
  patterns.push(/^ust-opt-(in|out)$/);
  return (href) => {
    if (!href) return '';
    let url;
    try { url = new URL(href, W.location.href); } catch (e) { return ''; }
    const names = [...url.searchParams.keys()];
    const drop = names.filter((name) => patterns.some((re) => re.test(name)));
    if (!drop.length) return url.href;
    for (const name of drop) url.searchParams.delete(name);
    return url.href;
  };
}

const CAMPAIGN = ['source', 'medium', 'campaign', 'term', 'content'];

// UTM values and ad click ids of the landing URL, captured before stripping removes them.
export function campaign(href) {
  let params;
  try { params = new URL(href).searchParams; } catch (e) { return {}; }
  const get = (name) => (params.get(name) || '').slice(0, 200);
  const utm = {};
  for (const key of CAMPAIGN) utm[key] = get('utm_' + key);
  return { utm, gclid: get('gclid'), fbclid: get('fbclid') };
}
