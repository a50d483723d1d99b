// The recording player (built by tracker/build.mjs into static/build/player.min.js with rrweb's replayer).
//
// One session = several pages. A full-page ("dom") page is rebuilt by rrweb's Replayer inside an
// iframe sandboxed without scripts; a pointer page is drawn over the recorded snapshot of the page,
// served by /replay/snapshot/… into an iframe with an empty sandbox (no scripts, opaque origin), so
// the recorded site's code never runs here and its live version is never needed.
import { Replayer } from '@rrweb/replay';
import '@rrweb/replay/dist/style.css';

const INACTIVE_MS = 3000; // pointer pages: gaps longer than this are skipped when "skip inactivity" is on
const TRAIL_MS = 600;

const $ = (id) => document.getElementById(id);

function fmt(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

// ---- full-page pages: rrweb --------------------------------------------------------------------

class DomEngine {
  constructor(stage, page, options) {
    this.page = page;
    this.onFinish = () => {};
    this.box = el('div', { class: 'player-scale' });
    stage.appendChild(this.box);
    this.replayer = new Replayer(page.events, {
      root: this.box,
      speed: options.speed,
      skipInactive: options.skip,
      showWarning: false,
      triggerFocus: false,
      mouseTail: { duration: TRAIL_MS, lineCap: 'round', lineWidth: 3, strokeStyle: 'rgba(52,97,217,0.55)' },
      UNSAFE_replayCanvas: false, // keeps the iframe sandboxed without allow-scripts
      pauseAnimation: true,
    });
    const meta = this.replayer.getMetaData();
    this.start = meta.startTime;
    this.total = meta.totalTime;
    this.replayer.on('finish', () => this.onFinish());
    this.replayer.on('resize', () => this.fit(stage));
    this.fit(stage);
    this.replayer.pause(0);
  }

  fit(stage) {
    const frame = this.replayer.iframe;
    const w = parseInt(frame.width, 10) || this.page.viewport[0] || 1280;
    const h = parseInt(frame.height, 10) || this.page.viewport[1] || 800;
    const scale = Math.min(stage.clientWidth / w, stage.clientHeight / h, 1);
    this.box.style.width = w + 'px';
    this.box.style.height = h + 'px';
    this.box.style.transform = 'scale(' + scale + ')';
  }

  play(at) { this.replayer.play(at); }
  pause() { this.replayer.pause(); }
  seek(at, playing) { if (playing) this.replayer.play(at); else this.replayer.pause(at); }
  current() { return this.replayer.getCurrentTime(); }
  duration() { return this.total; }
  setSpeed(speed) { this.replayer.setConfig({ speed }); }
  setSkip(skip) { this.replayer.setConfig({ skipInactive: skip }); }
  destroy() { try { this.replayer.destroy(); } catch (e) { /* already gone */ } this.box.remove(); }
}

// ---- pointer pages: snapshot + cursor ------------------------------------------------------------

class PointerEngine {
  constructor(stage, page, options, labels) {
    this.page = page;
    this.options = options;
    this.onFinish = () => {};
    this.events = page.events.filter((e) => typeof e.t === 'number');
    this.start = this.events.length ? this.events[0].t : page.started_at;
    const end = this.events.length ? this.events[this.events.length - 1].t : this.start;
    this.total = Math.max(0, end - this.start);
    this.gaps = [];
    for (let i = 1; i < this.events.length; i++) {
      const gap = this.events[i].t - this.events[i - 1].t;
      if (gap > INACTIVE_MS) this.gaps.push([this.events[i - 1].t - this.start + 500, this.events[i].t - this.start - 500]);
    }
    const vw = page.viewport[0] || 1280;
    const vh = page.viewport[1] || 800;
    this.vw = vw;
    this.vh = vh;
    this.box = el('div', { class: 'player-scale player-pointer' });
    this.box.style.width = vw + 'px';
    this.box.style.height = vh + 'px';
    this.doc = el('div', { class: 'player-doc' });
    this.frames = {};
    this.snapshots = page.snapshots || [];
    if (!this.snapshots.length) {
      if (options.live) {
        const live = el('iframe', { class: 'player-frame', sandbox: '', referrerpolicy: 'no-referrer', title: labels.live });
        live.src = page.url;
        this.doc.appendChild(live);
      } else {
        this.doc.appendChild(el('div', { class: 'player-nosnapshot' }, labels.noSnapshot + ' ' + page.url));
      }
    }
    const docHeight = Math.max(page.doc_height || 0, vh);
    this.doc.style.height = docHeight + 'px';
    this.overlay = el('div', { class: 'player-overlay' });
    this.svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.svg.setAttribute('class', 'player-trail');
    this.svg.setAttribute('width', vw);
    this.svg.setAttribute('height', docHeight);
    this.trail = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    this.svg.appendChild(this.trail);
    this.cursor = el('div', { class: 'player-cursor' });
    this.overlay.append(this.svg, this.cursor);
    this.doc.appendChild(this.overlay);
    this.box.appendChild(this.doc);
    stage.appendChild(this.box);
    const scale = Math.min(stage.clientWidth / vw, stage.clientHeight / vh, 1);
    this.box.style.transform = 'scale(' + scale + ')';
    this.at = 0;
    this.playing = false;
    this.shownClicks = new Set();
    this.render();
  }

  snapshotAt(t) {
    let chosen = null;
    for (const snap of this.snapshots) if (snap.t <= t || chosen === null) chosen = snap;
    return chosen;
  }

  frameFor(snap) {
    if (!this.frames[snap.hash]) {
      // Empty sandbox: no scripts, no same-origin; the document also carries a sandbox CSP.
      const frame = el('iframe', { class: 'player-frame', sandbox: '', scrolling: 'no', referrerpolicy: 'no-referrer' });
      const share = this.options.share ? '?share=' + encodeURIComponent(this.options.share) : '';
      frame.src = '/replay/snapshot/' + this.options.site + '/' + snap.hash + share;
      frame.style.width = this.vw + 'px';
      frame.style.height = this.doc.style.height;
      this.doc.insertBefore(frame, this.overlay);
      this.frames[snap.hash] = frame;
    }
    return this.frames[snap.hash];
  }

  render() {
    const now = this.start + this.at;
    let x = null; let y = null; let scroll = 0; let width = this.vw; let height = this.vh;
    const trail = [];
    for (const e of this.events) {
      if (e.t > now) break;
      if (e.k === 'move' || e.k === 'click') {
        x = e.x; y = e.y;
        if (now - e.t <= TRAIL_MS) trail.push(e.x + ',' + e.y);
      } else if (e.k === 'scroll') {
        scroll = e.y;
      } else if (e.k === 'resize') {
        width = e.w || width; height = e.h || height;
      }
      if (e.k === 'click' && now - e.t < 700 && !this.shownClicks.has(e)) {
        this.shownClicks.add(e);
        const ripple = el('div', { class: 'player-click' });
        ripple.style.left = e.x + 'px';
        ripple.style.top = e.y + 'px';
        this.overlay.appendChild(ripple);
        setTimeout(() => ripple.remove(), 700);
      }
    }
    const snap = this.snapshotAt(now);
    if (snap) {
      const frame = this.frameFor(snap);
      for (const other of Object.values(this.frames)) other.hidden = other !== frame;
    }
    this.doc.style.transform = 'translateY(' + -scroll + 'px)';
    this.box.style.width = width + 'px';
    this.box.style.height = height + 'px';
    this.cursor.hidden = x === null;
    if (x !== null) {
      this.cursor.style.left = x + 'px';
      this.cursor.style.top = y + 'px';
    }
    this.trail.setAttribute('points', trail.join(' '));
  }

  tick(stamp) {
    if (!this.playing) return;
    const elapsed = (stamp - this.last) * this.options.speed;
    this.last = stamp;
    this.at += elapsed;
    if (this.options.skip) {
      for (const [from, to] of this.gaps) if (this.at > from && this.at < to) this.at = to;
    }
    if (this.at >= this.total) {
      this.at = this.total;
      this.render();
      this.playing = false;
      this.onFinish();
      return;
    }
    this.render();
    this.frame = requestAnimationFrame((s) => this.tick(s));
  }

  play(at) {
    if (typeof at === 'number') this.at = at;
    this.playing = true;
    this.last = performance.now();
    this.frame = requestAnimationFrame((s) => this.tick(s));
  }

  pause() { this.playing = false; cancelAnimationFrame(this.frame); }
  seek(at, playing) { this.pause(); this.at = Math.max(0, Math.min(at, this.total)); this.render(); if (playing) this.play(); }
  current() { return this.at; }
  duration() { return this.total; }
  setSpeed(speed) { this.options.speed = speed; }
  setSkip(skip) { this.options.skip = skip; }
  destroy() { this.pause(); this.box.remove(); }
}

// ---- the player ----------------------------------------------------------------------------------

class Player {
  constructor(root) {
    this.root = root;
    const d = root.dataset;
    this.labels = {
      play: d.labelPlay, pause: d.labelPause, noSnapshot: d.labelNoSnapshot, empty: d.labelEmpty,
      error: d.labelError, live: d.labelLive,
      kinds: { click: d.labelClick, rage: d.labelRage, dead: d.labelDead, page: d.labelPage, tag: d.labelTag, event: d.labelEvent },
    };
    this.options = { speed: 1, skip: true, site: d.site, share: d.share, live: d.live === '1' };
    this.stage = $('player-stage');
    this.playButton = $('player-play');
    this.engine = null;
    this.index = -1;
    this.playing = false;
    this.playButton.addEventListener('click', () => this.toggle());
    $('player-speed').addEventListener('change', (e) => {
      this.options.speed = Number(e.target.value) || 1;
      if (this.engine) this.engine.setSpeed(this.options.speed);
    });
    $('player-skip').addEventListener('change', (e) => {
      this.options.skip = e.target.checked;
      if (this.engine) this.engine.setSkip(this.options.skip);
    });
    $('player-timeline').addEventListener('click', (e) => {
      if (!this.engine || e.target.closest('.player-marker')) return;
      const box = e.currentTarget.getBoundingClientRect();
      this.engine.seek(((e.clientX - box.left) / box.width) * this.engine.duration(), this.playing);
    });
    this.load(d.src);
  }

  load(src) {
    fetch(src, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then((data) => this.ready(data))
      .catch(() => { this.stage.textContent = this.labels.error; });
  }

  ready(data) {
    this.data = data;
    this.pages = data.pages.filter((p) => p.events.length);
    if (!this.pages.length) {
      this.stage.textContent = this.labels.empty;
      return;
    }
    const list = $('player-pages');
    this.pages.forEach((page, i) => {
      const item = el('li', { 'data-page': i });
      const link = el('button', { type: 'button', class: 'link' }, page.title || page.url);
      link.title = page.url;
      link.addEventListener('click', () => this.show(i, 0, this.playing));
      item.appendChild(link);
      list.appendChild(item);
    });
    this.root.classList.add('player-ready');
    this.playButton.disabled = false;
    this.show(0, 0, false);
    this.root.dataset.state = 'ready';
  }

  pageMarkers(index) {
    const page = this.pages[index];
    const original = this.data.pages.indexOf(page);
    return this.data.markers.filter((m) => m.page === original || (m.page == null && this.inPage(m.t, index)));
  }

  inPage(t, index) {
    const next = this.pages[index + 1];
    return t >= this.pages[index].started_at && (!next || t < next.started_at);
  }

  show(index, at, play) {
    cancelAnimationFrame(this.clock);
    if (this.engine) this.engine.destroy();
    this.stage.textContent = '';
    this.index = index;
    const page = this.pages[index];
    const Engine = page.mode === 'dom' ? DomEngine : PointerEngine;
    try {
      this.engine = new Engine(this.stage, page, this.options, this.labels);
    } catch (e) {
      // A page whose recording is incomplete (no full snapshot): say so, keep the other pages.
      this.engine = null;
      this.stage.textContent = this.labels.error;
      this.setPlaying(false);
      return;
    }
    this.engine.onFinish = () => {
      if (this.index + 1 < this.pages.length) this.show(this.index + 1, 0, true);
      else this.setPlaying(false);
    };
    $('player-url').textContent = page.url;
    this.root.dataset.page = String(index);
    this.root.dataset.mode = page.mode;
    for (const item of $('player-pages').children) item.classList.toggle('current', item.dataset.page === String(index));
    this.drawMarkers(index);
    this.engine.seek(at, play);
    this.setPlaying(play);
    const update = () => {
      const now = this.engine.current();
      const total = this.engine.duration();
      $('player-time').textContent = fmt(now) + ' / ' + fmt(total);
      $('player-progress').style.width = (total ? Math.min(100, (100 * now) / total) : 0) + '%';
      this.root.dataset.time = String(Math.round(now));
      this.clock = requestAnimationFrame(update);
    };
    update();
  }

  drawMarkers(index) {
    const timeline = $('player-timeline');
    for (const old of timeline.querySelectorAll('.player-marker')) old.remove();
    const list = $('player-markers');
    list.textContent = '';
    const total = this.engine.duration() || 1;
    for (const marker of this.pageMarkers(index)) {
      const offset = Math.max(0, marker.t - this.engine.start);
      const name = this.labels.kinds[marker.kind] || marker.kind;
      const dot = el('button', { type: 'button', class: 'player-marker marker-' + marker.kind, title: name + (marker.label ? ': ' + marker.label : '') });
      dot.style.left = Math.min(100, (100 * offset) / total) + '%';
      dot.addEventListener('click', () => this.engine.seek(offset, this.playing));
      timeline.appendChild(dot);
      if (marker.kind === 'click') continue; // plain clicks: on the timeline only, the list stays short
      const item = el('li', { class: 'marker-' + marker.kind });
      const jump = el('button', { type: 'button', class: 'link' }, fmt(offset) + ' ' + name + (marker.label ? ': ' + marker.label : ''));
      jump.addEventListener('click', () => this.engine.seek(offset, this.playing));
      item.appendChild(jump);
      list.appendChild(item);
    }
  }

  setPlaying(playing) {
    this.playing = playing;
    this.playButton.textContent = playing ? this.labels.pause : this.labels.play;
    this.root.dataset.playing = playing ? '1' : '0';
  }

  toggle() {
    if (!this.engine) return;
    if (this.playing) {
      this.engine.pause();
      this.setPlaying(false);
    } else {
      const at = this.engine.current() >= this.engine.duration() ? 0 : this.engine.current();
      this.engine.play(at);
      this.setPlaying(true);
    }
  }
}

const root = document.getElementById('player');
if (root) window.uxwizzPlayer = new Player(root);
