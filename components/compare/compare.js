// The compare player: a Streamlit components v2 module (no build step, no CDN).
//
// data (from components/compare/__init__.py):
//   {source: Item|null, results: [Item…], view: {mode, zoom, selected, time}, compact,
//    player_id} (player_id: the Streamlit key, what a player drawn anew picks up by)
//   Item = {slot, url|null, label, lines: [str], note|null, waiting|null,
//           width, height, fps, duration, id|null}
// state sent back: "view" = {mode, zoom, selected} (only when the person changes one);
//   "time" = the playhead in seconds once it settles (after a seek, a frame step or a
//   pause, never while playing), so a panel beside the player (the HDR inspector) can
//   follow it. data.view.time, when given, is where a new player starts.
//
// Geometry: every picture is drawn in the *reference* geometry, the selected result's
// width × height (the source is scaled to it), so one zoom and one pan show the same region
// on every side. Zoom "1" is 100 %: one result pixel per device pixel.
// Time: every video shows the same instant t (seconds); a video whose end is before t is
// held on its last frame and marked "ended". Frame steps move t by one frame of the
// reference result and land in the middle of that frame.

const MODES = [
  ["wipe", "Wipe", "w"], ["side", "Side by side", "s"], ["flip", "A/B flip", "f"],
  ["diff", "Difference", "d"], ["grid", "Grid", "g"],
];
const ZOOMS = [["fit", "Fit"], ["1", "100 %"], ["2", "200 %"], ["4", "400 %"]];
const SPEEDS = [0.25, 0.5, 1, 1.5, 2];
const GAINS = [1, 4, 16];
const EPS = 1e-6;

const players = (window.__vcmpPlayers = window.__vcmpPlayers || new Set());
// What a player drawn anew for the same player_id and source picks up: Streamlit can replace
// a component's element on a rerun (a status card's last redraw on a busy machine), and the
// person watching must not see the video stop and rewind. Written on every change while a
// player lives; read by a new player while the player that wrote it still lives (a stale
// copy beside the new one) or within KEEP_MS of its last write (the old one is gone).
const kept = (window.__vcmpKept = window.__vcmpKept || new Map());
const KEEP_MS = 10000;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function clamp(x, lo, hi) {
  return Math.min(hi, Math.max(lo, x));
}

function timecode(t, fps) {
  const base = Math.max(1, Math.round(fps));
  const frames = Math.floor(t * fps + EPS);
  const secs = Math.floor(frames / fps + EPS);
  const ff = frames - Math.floor(secs * fps + EPS);
  const hh = Math.floor(secs / 3600), mm = Math.floor(secs / 60) % 60, ss = secs % 60;
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${p(hh)}:${p(mm)}:${p(ss)}:${p(clamp(ff, 0, base - 1))}`;
}

function typesText(node) {
  if (node.isContentEditable) return true;
  const tag = node.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  return !["radio", "checkbox", "range", "button", "submit", "reset", "color", "file"]
    .includes((node.type || "text").toLowerCase());
}

class Player {
  constructor(root) {
    this.root = root;
    this.items = []; // [source?, ...results]
    this.hasSource = false;
    this.view = { mode: "wipe", zoom: "fit", selected: 0 };
    this.reported = null;
    this.reportedT = null;
    this.timeTimer = 0;
    this.t = 0;
    this.playing = false;
    this.speed = 1;
    this.loop = { a: null, b: null, on: false };
    this.wipe = 0.5;
    this.center = null; // [x, y] in reference pixels
    this.showB = true; // flip mode: B (result) or A (source)
    this.gain = 4;
    this.raf = 0;
    this.vps = []; // viewports of the current layout
    this.layoutKey = "";
    this.stage = root.querySelector(".vcmp-stage");
    this.parking = root.querySelector(".vcmp-parking");
    this.buildChrome();
    this.onKey = this.onKey.bind(this);
    document.addEventListener("keydown", this.onKey);
    this.ro = new ResizeObserver(() => this.place());
    this.ro.observe(this.stage);
    root.addEventListener("pointerdown", () => this.activate(), true);
    root.addEventListener("focusin", () => this.activate());
    players.add(this);
  }

  // ---------------------------------------------------------------- data in / state out
  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    const source = data.source || null;
    const results = data.results || [];
    const items = (source ? [source] : []).concat(results);
    const old = new Map(this.items.map((it) => [it.slot, it]));
    for (const it of items) {
      const prev = old.get(it.slot);
      if (prev && prev.url === it.url && prev.video) {
        it.video = prev.video;
        old.delete(it.slot);
      } else if (it.url) {
        it.video = this.makeVideo(it);
      }
    }
    for (const prev of old.values()) {
      if (prev.video) {
        prev.video.pause();
        prev.video.removeAttribute("src");
        prev.video.load();
        prev.video.remove();
      }
    }
    this.items = items;
    this.hasSource = !!source;
    this.compact = !!data.compact;
    const nres = results.length;
    this.solo = nres === 0; // the source alone, until a result exists
    // The view comes from Python only when this player is new (a remount keeps what the
    // person chose); afterwards the player is the truth and Python's copy lags one run.
    const v = data.view || {};
    let resume = false;
    if (!this.reported) {
      if (v.mode) this.view.mode = v.mode;
      if (v.zoom) this.view.zoom = String(v.zoom);
      if (Number.isInteger(v.selected)) this.view.selected = v.selected;
      this.reported = { ...this.view };
      if (Number.isFinite(v.time) && v.time >= 0) this.t = v.time;
      this.reportedT = this.t;
      this.id = data.player_id || null;
      const k = this.id ? kept.get(this.id) : null;
      const fresh = k && (players.has(k.by) || performance.now() - k.at < KEEP_MS);
      if (fresh && k.by !== this && k.content === this.content()) {
        this.t = k.t;
        this.loop = { ...k.loop };
        this.wipe = k.wipe;
        this.showB = k.showB;
        resume = k.playing;
      }
    }
    this.view.selected = clamp(this.view.selected, 0, Math.max(0, nres - 1));
    if (!this.solo && !this.modeAllowed(this.view.mode)) {
      this.view.mode = nres > 1 || !this.hasSource ? "grid" : "wipe";
    }
    this.renderChrome();
    this.layout(false);
    if (!this.playing) this.seekAll(this.t); // a refresh while playing must not jump back
    if (resume) this.play();
  }
  content() {
    // Which clip this player shows: its source (or first result) file.
    const first = this.items[0];
    return first ? first.url || first.id || first.slot : "";
  }
  keep() {
    if (!this.id || !this.items.length) return;
    kept.set(this.id, { t: this.t, playing: this.playing, loop: { ...this.loop },
      wipe: this.wipe, showB: this.showB, content: this.content(), at: performance.now(),
      by: this });
  }

  report() {
    const v = { ...this.view };
    if (this.reported && JSON.stringify(v) === JSON.stringify(this.reported)) return;
    this.reported = v;
    if (this.setStateValue) this.setStateValue("view", v);
  }

  // The playhead, once it has settled for a moment (a drag on the seek bar sends one value).
  reportTime() {
    clearTimeout(this.timeTimer);
    this.timeTimer = setTimeout(() => {
      if (this.playing || !this.setStateValue) return;
      const t = Math.round(this.t * 10000) / 10000;
      if (this.reportedT !== null && Math.abs(t - this.reportedT) < 1e-4) return;
      this.reportedT = t;
      this.root.dataset.reportedTime = t.toFixed(4);
      this.setStateValue("time", t);
    }, 300);
  }

  // ---------------------------------------------------------------------- helpers
  results() {
    return this.items.slice(this.hasSource ? 1 : 0);
  }
  source() {
    return this.hasSource ? this.items[0] : null;
  }
  ref() {
    const res = this.results();
    return res[this.view.selected] || res[0] || this.items[0] || { width: 16, height: 9, fps: 24, duration: 0 };
  }
  fps() {
    return Math.max(1, this.ref().fps || 24);
  }
  duration(it) {
    const d = it.video && isFinite(it.video.duration) && it.video.duration > 0 ? it.video.duration : it.duration;
    return d || 0;
  }
  maxDuration() {
    return Math.max(0, ...this.items.map((it) => this.duration(it)));
  }
  modeAllowed(mode) {
    const nres = this.results().length;
    if (mode === "grid") return nres > 1 || (nres === 1 && this.hasSource);
    if (!this.hasSource || nres === 0) return false;
    if (mode === "diff") return this.sameAspect();
    return true;
  }
  sameAspect() {
    const a = this.source(), b = this.ref();
    if (!a || !b || !a.width || !b.width) return false;
    const ra = a.width / a.height, rb = b.width / b.height;
    return Math.abs(ra - rb) / rb < 0.01;
  }
  shownItems() {
    if (this.solo) return this.items.slice(0, 1);
    const m = this.view.mode;
    const res = this.results();
    const sel = res[this.view.selected];
    if (m === "grid") return this.items.slice();
    return [this.source(), sel].filter(Boolean);
  }
  activate() {
    window.__vcmpActive = this;
  }
  isActive() {
    const active = window.__vcmpActive;
    if (active && players.has(active) && active.root.isConnected) return active === this;
    for (const p of players) if (p.root.isConnected) return p === this; // the first on the page
    return false;
  }

  makeVideo(it) {
    const v = document.createElement("video");
    v.muted = true;
    v.playsInline = true;
    v.preload = "auto";
    v.loop = false;
    v.src = it.url;
    v.dataset.slot = it.slot;
    v.addEventListener("loadedmetadata", () => {
      this.renderTime();
      this.seekOne(it, this.t);
    });
    return v;
  }

  // ---------------------------------------------------------------------- chrome
  buildChrome() {
    const r = this.root;
    this.modesEl = r.querySelector(".vcmp-modes");
    for (const [mode, label, key] of MODES) {
      const b = el("button", "", label);
      b.type = "button";
      b.dataset.mode = mode;
      b.title = `${label} (${key})`;
      b.addEventListener("click", () => this.setMode(mode));
      this.modesEl.appendChild(b);
    }
    this.zoomsEl = r.querySelector(".vcmp-zooms");
    for (const [zoom, label] of ZOOMS) {
      const b = el("button", "", label);
      b.type = "button";
      b.dataset.zoom = zoom;
      b.title = zoom === "fit" ? "Fit (0)" : `${label}: ${zoom} result pixel(s) per screen pixel (${zoom})`;
      b.addEventListener("click", () => this.setZoom(zoom));
      this.zoomsEl.appendChild(b);
    }
    this.extra = r.querySelector(".vcmp-extra");
    this.flipBtn = el("button", "vcmp-btn vcmp-flip", "A/B");
    this.flipBtn.type = "button";
    this.flipBtn.title = "Flip between source (A) and result (B) (f, or a / b)";
    this.flipBtn.addEventListener("click", () => this.flip());
    this.gainSel = el("select", "vcmp-gain");
    this.gainSel.title = "Amplification of |A − B|";
    for (const g of GAINS) {
      const o = el("option", "", `|A − B| × ${g}`);
      o.value = String(g);
      this.gainSel.appendChild(o);
    }
    this.gainSel.value = String(this.gain);
    this.gainSel.addEventListener("change", () => {
      this.gain = Number(this.gainSel.value);
      this.layout(false);
    });
    this.pickSel = el("select", "vcmp-pick");
    this.pickSel.title = "Which result is B";
    this.pickSel.addEventListener("change", () => this.select(Number(this.pickSel.value)));
    this.extra.append(this.flipBtn, this.gainSel, this.pickSel);

    this.playBtn = r.querySelector(".vcmp-play");
    this.playBtn.addEventListener("click", () => this.toggle());
    r.querySelector(".vcmp-back").addEventListener("click", () => this.step(-1));
    r.querySelector(".vcmp-fwd").addEventListener("click", () => this.step(1));
    this.seekEl = r.querySelector(".vcmp-seek");
    this.seekEl.addEventListener("input", () => this.seek(Number(this.seekEl.value), true));
    this.timeEl = r.querySelector(".vcmp-time");
    this.speedSel = r.querySelector(".vcmp-speed");
    for (const s of SPEEDS) {
      const o = el("option", "", `${s}×`);
      o.value = String(s);
      this.speedSel.appendChild(o);
    }
    this.speedSel.value = "1";
    this.speedSel.addEventListener("change", () => this.setSpeed(Number(this.speedSel.value)));
    r.querySelector(".vcmp-in").addEventListener("click", () => this.setLoop("a"));
    r.querySelector(".vcmp-out").addEventListener("click", () => this.setLoop("b"));
    this.loopBtn = r.querySelector(".vcmp-loop");
    this.loopBtn.addEventListener("click", () => this.toggleLoop());
    this.loopBand = r.querySelector(".vcmp-loopband");
    r.querySelector(".vcmp-help").textContent =
      "Keys: space play/pause · ←/→ one frame (shift: 1 s) · f or a/b flip A/B · " +
      "w wipe · s side by side · d difference · g grid · 0 fit · 1/2/4 zoom · +/− zoom · " +
      "i/o loop in/out · l loop. Drag to pan when zoomed; drag the divider to wipe.";
  }

  renderChrome() {
    const r = this.root;
    this.modesEl.hidden = this.solo;
    for (const b of this.modesEl.children) {
      const ok = this.modeAllowed(b.dataset.mode);
      b.disabled = !ok;
      b.hidden = b.dataset.mode === "grid" && this.results().length < 2;
      if (b.dataset.mode === "diff" && !ok && this.hasSource && this.results().length) {
        b.title = "Difference needs the source and the result at one aspect ratio";
      }
      b.setAttribute("aria-pressed", String(b.dataset.mode === this.view.mode));
    }
    for (const b of this.zoomsEl.children) {
      b.setAttribute("aria-pressed", String(b.dataset.zoom === this.view.zoom));
    }
    this.flipBtn.hidden = this.view.mode !== "flip";
    this.flipBtn.textContent = this.showB ? "Showing B · switch to A" : "Showing A · switch to B";
    this.gainSel.hidden = this.view.mode !== "diff";
    const res = this.results();
    this.pickSel.hidden = res.length < 2 || this.view.mode === "grid";
    this.pickSel.replaceChildren(...res.map((it, i) => {
      const o = el("option", "", `B = ${it.label}`);
      o.value = String(i);
      return o;
    }));
    this.pickSel.value = String(this.view.selected);
    r.dataset.mode = this.solo ? "solo" : this.view.mode;
    r.dataset.zoom = this.view.zoom;
    r.dataset.shown = this.view.mode === "flip" ? (this.showB ? "B" : "A") : "";
    r.dataset.selected = String(this.view.selected);
    this.loopBtn.setAttribute("aria-pressed", String(this.loop.on));
  }

  // ---------------------------------------------------------------------- layout
  layout(force) {
    const mode = this.view.mode;
    const shown = this.shownItems();
    // Rebuilt only when what is drawn changes (a refresh with the same items keeps the DOM).
    const key = JSON.stringify([this.solo ? "solo" : mode, this.view.selected,
      shown.map((it) => [it.slot, !!it.video, it.waiting, it.label, it.lines, it.note])]);
    if (force || key !== this.layoutKey) {
      this.layoutKey = key;
      this.build(mode, shown);
    }
    this.place();
  }

  build(mode, shown) {
    // Park every video, then move the shown ones into fresh viewports.
    for (const it of this.items) {
      if (it.video && it.video.parentNode !== this.parking) {
        this.parking.appendChild(it.video);
      }
    }
    this.stage.replaceChildren();
    this.vps = [];
    const src = this.source();
    if (this.solo) {
      this.stage.style.gridTemplateColumns = "minmax(0, 1fr)";
      this.stage.appendChild(this.viewport(shown, "solo").el);
      return;
    }
    if (mode === "grid") {
      const n = shown.length;
      const cols = n <= 2 ? n : n <= 4 ? 2 : 3;
      this.stage.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
      shown.forEach((it) => {
        const tile = el("div", "vcmp-tile");
        const head = el("div", "vcmp-tilehead");
        const isSrc = it === src;
        head.appendChild(el("b", "", isSrc ? `Source · ${it.label}` : it.label));
        for (const line of it.lines || []) {
          head.appendChild(document.createElement("br"));
          head.appendChild(document.createTextNode(line));
        }
        if (it.note) {
          head.appendChild(document.createElement("br"));
          head.appendChild(el("i", "", it.note));
        }
        const ri = this.results().indexOf(it);
        if (ri >= 0) {
          head.title = "Select this result (for A/B, wipe and the detail panel)";
          head.addEventListener("click", () => this.select(ri));
          if (ri === this.view.selected) tile.classList.add("vcmp-selected");
        }
        tile.dataset.slot = it.slot;
        const vp = this.viewport([it], "tile");
        tile.append(head, vp.el);
        this.stage.appendChild(tile);
      });
    } else {
      const side = mode === "side";
      this.stage.style.gridTemplateColumns = side ? "repeat(2, minmax(0, 1fr))" : "minmax(0, 1fr)";
      if (side) {
        shown.forEach((it, i) => this.stage.appendChild(this.viewport([it], i === 0 ? "A" : "B").el));
      } else {
        this.stage.appendChild(this.viewport(shown, mode).el);
      }
    }
  }

  viewport(items, role) {
    const vpEl = el("div", "vcmp-vp");
    vpEl.dataset.role = role;
    const plane = el("div", "vcmp-plane");
    vpEl.appendChild(plane);
    const vp = { el: vpEl, plane, role, layers: [], ended: [], w: 0, h: 0 };
    const res = this.results();
    items.forEach((it, i) => {
      const layer = el("div", "vcmp-layer");
      layer.dataset.slot = it.slot;
      if (it.video) {
        layer.appendChild(it.video);
      } else {
        layer.appendChild(el("div", "vcmp-wait", it.waiting || "Not playable"));
      }
      plane.appendChild(layer);
      const isA = it === this.source();
      const sideCls = role === "tile" ? "vcmp-left" : (isA ? "vcmp-left" : "vcmp-right");
      const name = role === "solo" ? `Source · ${it.label}` : (isA ? "A · Source" : "B · " + it.label);
      const tag = role === "tile" ? null : el("div", `vcmp-tag ${sideCls}`,
        name + (it.note ? " · SDR preview" : ""));
      if (tag) {
        tag.title = [it.label, ...(it.lines || []), it.note || ""].filter(Boolean).join("\n");
        vpEl.appendChild(tag);
      }
      const ended = el("div", `vcmp-ended ${sideCls}`);
      ended.hidden = true;
      vpEl.appendChild(ended);
      vp.layers.push({ it, layer, tag, ended, index: i, isA, resultIndex: res.indexOf(it) });
    });
    if (role === "wipe") {
      const div = el("div", "vcmp-divider");
      div.appendChild(el("div", "vcmp-handle", "⇔"));
      vpEl.appendChild(div);
      vp.divider = div;
      div.addEventListener("pointerdown", (e) => this.dragDivider(e, vp));
    }
    vpEl.addEventListener("pointerdown", (e) => this.dragPan(e, vp));
    vpEl.addEventListener("dblclick", () => this.setZoom(this.view.zoom === "fit" ? "1" : "fit"));
    this.vps.push(vp);
    return vp;
  }

  scale(vp) {
    const ref = this.ref();
    if (this.view.zoom === "fit") return Math.min(vp.w / ref.width, vp.h / ref.height);
    return Number(this.view.zoom) / (window.devicePixelRatio || 1);
  }

  place() {
    const ref = this.ref();
    const W = ref.width || 16, H = ref.height || 9;
    const mode = this.view.mode;
    const share = this.compact ? 0.42 : (mode === "grid" && !this.solo ? 0.42 : 0.68);
    const maxH = Math.max(200, Math.round(window.innerHeight * share));
    if (!this.center) this.center = [W / 2, H / 2];
    for (const vp of this.vps) {
      const w = vp.el.clientWidth || this.stage.clientWidth || 640;
      const h = Math.min(Math.round(w * H / W), maxH);
      vp.el.style.height = `${h}px`;
      vp.w = w;
      vp.h = h;
    }
    // One center for all viewports, clamped so the picture covers each viewport.
    const vp0 = this.vps[0];
    if (vp0) {
      const s = this.scale(vp0);
      const half = (n, len) => (n * s <= len ? n / 2 : null);
      for (const [axis, n, len] of [[0, W, vp0.w], [1, H, vp0.h]]) {
        const fixed = half(n, len);
        if (fixed !== null) this.center[axis] = fixed;
        else this.center[axis] = clamp(this.center[axis], len / (2 * s), n - len / (2 * s));
      }
    }
    for (const vp of this.vps) {
      const s = this.scale(vp);
      const pw = W * s, ph = H * s;
      const tx = Math.round(vp.w / 2 - this.center[0] * s);
      const ty = Math.round(vp.h / 2 - this.center[1] * s);
      vp.tx = tx;
      vp.ty = ty;
      vp.s = s;
      Object.assign(vp.plane.style, {
        width: `${pw}px`, height: `${ph}px`, transform: `translate(${tx}px, ${ty}px)`,
      });
      vp.plane.classList.toggle("vcmp-diff", mode === "diff");
      vp.plane.style.filter = mode === "diff" ? `brightness(${this.gain})` : "";
      for (const L of vp.layers) {
        const isB = !L.isA;
        L.layer.style.mixBlendMode = mode === "diff" && isB ? "difference" : "";
        L.layer.style.visibility = mode === "flip" && (isB !== this.showB) ? "hidden" : "";
        if (L.tag) L.tag.hidden = mode === "flip" && (isB !== this.showB);
        if (mode === "diff" && L.tag) L.tag.textContent = L.isA ? `|A − B| × ${this.gain}` : "";
        if (mode === "diff" && L.tag && !L.isA) L.tag.hidden = true;
        if (mode === "wipe" && isB) {
          const cut = Math.max(0, this.wipe * vp.w - tx);
          L.layer.style.clipPath = `inset(0 0 0 ${cut}px)`;
        } else {
          L.layer.style.clipPath = "";
        }
      }
      if (vp.divider) vp.divider.style.left = `${this.wipe * vp.w}px`;
    }
    this.root.dataset.wipe = this.wipe.toFixed(3);
    this.root.dataset.scale = this.vps[0] ? String(this.vps[0].s) : "";
    this.renderEnded();
    this.keep();
  }

  // ---------------------------------------------------------------------- pointer
  dragDivider(e, vp) {
    e.stopPropagation();
    e.preventDefault();
    const rect = vp.el.getBoundingClientRect();
    const move = (ev) => {
      this.wipe = clamp((ev.clientX - rect.left) / rect.width, 0, 1);
      this.place();
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
    move(e);
  }

  dragPan(e, vp) {
    if (e.button !== 0) return;
    const fit = this.view.zoom === "fit";
    if (fit && vp.divider) { // in fit there is nothing to pan: dragging wipes
      this.dragDivider(e, vp);
      return;
    }
    if (fit) return;
    e.preventDefault();
    const s = vp.s || 1;
    const start = [e.clientX, e.clientY];
    const c0 = this.center.slice();
    vp.el.classList.add("vcmp-dragging");
    const move = (ev) => {
      this.center = [c0[0] - (ev.clientX - start[0]) / s, c0[1] - (ev.clientY - start[1]) / s];
      this.place();
    };
    const up = () => {
      vp.el.classList.remove("vcmp-dragging");
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  // ---------------------------------------------------------------------- view changes
  setMode(mode) {
    if (!this.modeAllowed(mode)) return;
    this.view.mode = mode;
    this.renderChrome();
    this.layout(false);
    this.seekAll(this.t);
    if (this.playing) this.playShown();
    this.report();
  }
  setZoom(zoom) {
    const z = String(zoom);
    if (!ZOOMS.some(([k]) => k === z)) return;
    this.view.zoom = z;
    this.renderChrome();
    this.place();
    this.report();
  }
  zoomBy(dir) {
    const order = ZOOMS.map(([k]) => k);
    this.setZoom(order[clamp(order.indexOf(this.view.zoom) + dir, 0, order.length - 1)]);
  }
  select(i) {
    if (i === this.view.selected) return;
    this.view.selected = clamp(i, 0, Math.max(0, this.results().length - 1));
    this.renderChrome();
    this.layout(true);
    this.seekAll(this.t);
    this.report();
  }
  flip(toB) {
    if (this.view.mode !== "flip") {
      this.view.mode = "flip";
      this.showB = toB === undefined ? false : toB;
      this.renderChrome();
      this.layout(false);
      this.seekAll(this.t);
      this.report();
      return;
    }
    this.showB = toB === undefined ? !this.showB : toB;
    this.renderChrome();
    this.place();
  }

  // ---------------------------------------------------------------------- time
  frameOf(t) {
    return Math.floor(t * this.fps() + EPS);
  }
  snap(t) {
    return (this.frameOf(t) + 0.5) / this.fps();
  }
  clampT(t) {
    const max = this.maxDuration();
    const last = max > 0 ? max - 0.5 / this.fps() : 0;
    return clamp(t, 0, Math.max(0, last));
  }
  seekOne(it, t) {
    const v = it.video;
    if (!v || v.readyState < 1) return;
    const d = this.duration(it);
    const target = d > 0 && t > d ? Math.max(0, d - 0.001) : t;
    if (Math.abs(v.currentTime - target) > 1e-4) v.currentTime = target;
  }
  seekAll(t) {
    for (const it of this.items) this.seekOne(it, t);
    this.renderTime();
    this.renderEnded();
    this.reportTime();
    this.keep();
  }
  seek(t, fromBar) {
    this.t = this.clampT(fromBar ? this.snap(t) : t);
    const was = this.playing;
    if (was) this.pauseAll();
    this.seekAll(this.t);
    if (was) this.play();
  }
  step(n) {
    this.pause();
    const f = this.frameOf(this.t) + n;
    this.t = this.clampT((f + 0.5) / this.fps());
    this.seekAll(this.t);
  }
  setSpeed(s) {
    this.speed = s;
    this.speedSel.value = String(s);
    for (const it of this.items) if (it.video) it.video.playbackRate = s;
  }
  setLoop(which) {
    this.loop[which] = this.t;
    if (this.loop.a !== null && this.loop.b !== null && this.loop.b < this.loop.a) {
      [this.loop.a, this.loop.b] = [this.loop.b, this.loop.a];
    }
    this.loop.on = true;
    this.renderChrome();
    this.renderTime();
    this.keep();
  }
  toggleLoop() {
    this.loop.on = !this.loop.on;
    if (!this.loop.on) this.loop = { a: null, b: null, on: false };
    this.renderChrome();
    this.renderTime();
    this.keep();
  }
  master() {
    // The clock: the longest playable video that is shown (falls back to any).
    const shown = this.shownItems().filter((it) => it.video && it.video.readyState >= 1);
    const pool = shown.length ? shown : this.items.filter((it) => it.video);
    let best = null;
    for (const it of pool) if (!best || this.duration(it) > this.duration(best)) best = it;
    return best;
  }
  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }
  playShown() {
    for (const it of this.items) {
      const v = it.video;
      if (!v) continue;
      const shown = this.shownItems().includes(it);
      if (shown && this.t < this.duration(it) - 0.5 / this.fps()) {
        v.playbackRate = this.speed;
        v.play().catch(() => {});
      } else {
        v.pause();
      }
    }
  }
  play() {
    if (!this.master()) return;
    const end = this.loop.on && this.loop.b !== null ? this.loop.b : this.maxDuration() - 0.5 / this.fps();
    if (this.t >= end - EPS) this.t = this.loop.on && this.loop.a !== null ? this.loop.a : 0;
    this.seekAll(this.t);
    this.playing = true;
    this.playBtn.textContent = "❚❚";
    this.playBtn.setAttribute("aria-label", "Pause");
    this.playShown();
    cancelAnimationFrame(this.raf);
    this.raf = requestAnimationFrame(() => this.tick());
  }
  pauseAll() {
    for (const it of this.items) if (it.video) it.video.pause();
  }
  pause() {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.pauseAll();
    const m = this.master();
    if (m) this.t = this.clampT(m.video.currentTime);
    this.playBtn.textContent = "▶";
    this.playBtn.setAttribute("aria-label", "Play");
    this.seekAll(this.t); // every video back on the master's instant
  }
  tick() {
    if (!this.playing) return;
    const m = this.master();
    if (!m) return this.pause();
    this.t = m.video.currentTime;
    const fps = this.fps();
    const loopEnd = this.loop.on && this.loop.b !== null ? this.loop.b : null;
    const end = this.duration(m) - 0.5 / fps;
    if ((loopEnd !== null && this.t >= loopEnd) || this.t >= end || m.video.ended) {
      if (this.loop.on) {
        this.t = this.loop.a !== null ? this.loop.a : 0;
        this.seekAll(this.t);
        this.playShown();
      } else {
        this.pause();
        return;
      }
    }
    for (const it of this.shownItems()) {
      const v = it.video;
      if (!v || it === m || v.readyState < 2) continue;
      const d = this.duration(it);
      if (this.t >= d - 0.5 / Math.max(1, it.fps || fps)) {
        if (!v.paused) v.pause();
        continue;
      }
      if (v.paused) v.play().catch(() => {});
      const drift = v.currentTime - this.t;
      if (Math.abs(drift) > 0.25) v.currentTime = this.t;
      else if (Math.abs(drift) > 0.5 / fps) v.playbackRate = this.speed * (1 - clamp(drift * 2, -0.2, 0.2));
      else v.playbackRate = this.speed;
    }
    this.renderTime();
    this.renderEnded();
    this.keep();
    this.raf = requestAnimationFrame(() => this.tick());
  }

  renderTime() {
    const fps = this.fps();
    const max = this.maxDuration();
    const ref = this.ref();
    const total = Math.round((this.duration(ref) || 0) * fps);
    const frame = this.frameOf(this.t);
    this.seekEl.max = String(max || 1);
    this.seekEl.step = String(1 / fps);
    this.seekEl.value = String(this.t);
    const past = total && frame >= total ? " (past B's end)" : "";
    this.timeEl.textContent = `${timecode(this.t, fps)} · frame ${frame + 1} / ${total || "?"}` +
      `${past} · ${this.t.toFixed(3)} s`;
    this.timeEl.title = `Timecode and frame of B at ${fps.toFixed(3)} frames/s`;
    this.root.dataset.frame = String(frame);
    this.root.dataset.time = this.t.toFixed(4);
    const band = this.loopBand;
    if (this.loop.on && max > 0 && (this.loop.a !== null || this.loop.b !== null)) {
      const a = this.loop.a ?? 0, b = this.loop.b ?? max;
      band.style.display = "block";
      band.style.left = `${(a / max) * 100}%`;
      band.style.width = `${Math.max(0.5, ((b - a) / max) * 100)}%`;
    } else {
      band.style.display = "none";
    }
  }

  renderEnded() {
    for (const vp of this.vps) {
      for (const L of vp.layers) {
        const d = this.duration(L.it);
        const past = d > 0 && this.t > d + 0.5 / Math.max(1, L.it.fps || 24);
        L.layer.classList.toggle("vcmp-past", past);
        L.ended.hidden = !past || (this.view.mode === "flip" && (!L.isA) !== this.showB);
        if (past) L.ended.textContent = `${L.isA ? "A" : L.it.label}: ended at ${d.toFixed(2)} s`;
      }
    }
  }

  // ---------------------------------------------------------------------- keys
  onKey(e) {
    if (!this.isActive() || e.ctrlKey || e.metaKey || e.altKey) return;
    // Keys typed into a text field elsewhere on the page are not ours.
    const target = e.composedPath ? e.composedPath()[0] : e.target;
    const inside = target && this.root.contains(target);
    if (!inside && target && typesText(target)) return;
    const k = e.key;
    let handled = true;
    if (k === " " || k === "k") this.toggle();
    else if (k === "ArrowLeft") e.shiftKey ? this.seek(this.t - 1) : this.step(-1);
    else if (k === "ArrowRight") e.shiftKey ? this.seek(this.t + 1) : this.step(1);
    else if (k === "f" || k === "F") this.flip();
    else if (k === "a" || k === "A") this.flip(false);
    else if (k === "b" || k === "B") this.flip(true);
    else if (k === "w") this.setMode("wipe");
    else if (k === "s") this.setMode("side");
    else if (k === "d") this.setMode("diff");
    else if (k === "g") this.setMode("grid");
    else if (k === "0") this.setZoom("fit");
    else if (k === "1" || k === "2" || k === "4") this.setZoom(k);
    else if (k === "+" || k === "=") this.zoomBy(1);
    else if (k === "-" || k === "_") this.zoomBy(-1);
    else if (k === "i") this.setLoop("a");
    else if (k === "o") this.setLoop("b");
    else if (k === "l") this.toggleLoop();
    else handled = false;
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  destroy() {
    this.keep(); // as it was, playing or not, for a player drawn anew in its place
    this.playing = false;
    cancelAnimationFrame(this.raf);
    clearTimeout(this.timeTimer);
    document.removeEventListener("keydown", this.onKey);
    this.ro.disconnect();
    for (const it of this.items) {
      if (it.video) {
        it.video.pause();
        it.video.removeAttribute("src");
        it.video.load();
      }
    }
    players.delete(this);
    if (window.__vcmpActive === this) window.__vcmpActive = null;
    if (this.root.__vcmp === this) this.root.__vcmp = null;
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".vcmp");
  if (!root) return undefined;
  let player = root.__vcmp;
  if (!player) {
    player = new Player(root);
    root.__vcmp = player;
  }
  player.update(data || {}, setStateValue);
  const generation = (player.generation = (player.generation || 0) + 1);
  // Streamlit keeps the latest cleanup and calls it on unmount; an older one (a data update
  // overtaken by a newer one) must not tear down the player the newer one uses.
  return () => {
    if (player.generation === generation) player.destroy();
  };
}
