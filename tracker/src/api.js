// The public UST object: addTag/addEvent with the server's limits, recording switches, forceSendData.
import { S } from './state.js';
import { now, hook, warn, guard, bytes, tab } from './util.js';
import { push, flushNow } from './transport.js';

const added = new Set();
const isText = (v, max) => typeof v === 'string' && v.trim() !== '' && v.length <= max;

// A string is a session tag (set semantics); an object is an event, as in UXWizz.
export function addTag(tag) {
  if (S.phase > 1) return;
  if (tag && typeof tag === 'object') return addEvent(tag);
  if (typeof tag === 'number') tag = String(tag);
  if (!isText(tag, 128)) return warn('UST.addTag ignored: a tag is a string of 1 to 128 characters', tag);
  tag = tag.trim();
  if (added.has(tag)) return;
  added.add(tag);
  push('tags', { pid: S.page.pid, t: now(), tag });
  hook('onTagAdded', tag);
}

export function addEvent(input) {
  if (S.phase > 1) return;
  const e = input && typeof input === 'object' ? input : {};
  const bad = (why) => warn('UST.addEvent ignored: ' + why, input);
  if (!isText(e.category, 128) || !isText(e.action, 128)) {
    return bad('category and action are required strings of 1 to 128 characters');
  }
  const event = { category: e.category, action: e.action };
  for (const key of ['label', 'item_id']) {
    let v = e[key];
    if (v == null) continue;
    if (typeof v === 'number') v = String(v);
    if (typeof v !== 'string' || v.length > 256) return bad(key + ' must be a string of at most 256 characters');
    event[key] = v;
  }
  for (const key of ['value', 'value_secondary']) {
    let v = e[key];
    if (v == null || v === '') continue;
    if (typeof v === 'string') v = Number(v);
    if (typeof v !== 'number' || !isFinite(v)) return bad(key + ' must be a number');
    event[key] = v;
  }
  if (e.data != null) {
    let json = '';
    try { json = JSON.stringify(e.data); } catch (err) { /* cyclic: rejected below */ }
    if (typeof e.data !== 'object' || Array.isArray(e.data) || !json || bytes(json) > 4096) {
      return bad('data must be a JSON object of at most 4 KB');
    }
    event.data = JSON.parse(json);
  }
  push('events', Object.assign({ pid: S.page.pid, t: now() }, event));
  hook('onEventAdded', event);
}

// Recording (pointer data, and the full-page recorder) can be paused for the rest of the tab session.
export const canRecord = () => S.phase === 1 && S.allowed && !!S.cfg.record && tab.get('ust-norec') !== '1';

export function install(U) {
  U.addTag = guard(addTag);
  U.addEvent = guard(addEvent);
  U.enableRecord = guard(() => tab.del('ust-norec'));
  U.disableRecord = guard(() => tab.set('ust-norec', '1'));
  U.forceSendData = guard(flushNow);
  U.canRecord = guard(canRecord);
}
