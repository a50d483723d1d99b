// Heatmap renderer for /sites/<id>/heatmaps: fetches the page's map from the REST API and draws it
// on a canvas over the background (stored snapshot, live page, or nothing). No inline script: the
// page passes everything in data-* attributes of #heatmap-stage.
(function () {
  "use strict";
  var stage = document.getElementById("heatmap-stage");
  if (!stage) return;
  var canvas = document.getElementById("heatmap-canvas");
  var frame = document.getElementById("heatmap-frame");
  var viewport = document.getElementById("heatmap-viewport");
  var summary = document.getElementById("heatmap-summary");
  var radiusInput = document.getElementById("heatmap-radius");
  var intensityInput = document.getElementById("heatmap-intensity");
  var kind = stage.getAttribute("data-kind");
  var background = stage.getAttribute("data-background");
  var width = parseInt(stage.getAttribute("data-width"), 10) || 1280;
  var MAX_HEIGHT = 20000; // px: keeps the canvas within what browsers allocate
  var data = null;
  var docHeight = 0;
  var placed = null; // click points placed on elements: {points, resolved}
  var palette = null;

  function label(name, values) {
    var text = stage.getAttribute("data-label-" + name) || "";
    Object.keys(values).forEach(function (key) { text = text.replace("{" + key + "}", values[key]); });
    return text;
  }

  function frameDocument() {
    if (!frame || background !== "snapshot") return null;
    try {
      var doc = frame.contentDocument;
      return doc && doc.documentElement ? doc : null;
    } catch (e) {
      return null; // another origin: coordinates only
    }
  }

  function buildPalette() {
    var c = document.createElement("canvas");
    c.width = 256; c.height = 1;
    var g = c.getContext("2d");
    var grad = g.createLinearGradient(0, 0, 256, 0);
    grad.addColorStop(0.0, "rgb(0,0,255)");
    grad.addColorStop(0.35, "rgb(0,255,255)");
    grad.addColorStop(0.55, "rgb(0,255,0)");
    grad.addColorStop(0.8, "rgb(255,255,0)");
    grad.addColorStop(1.0, "rgb(255,0,0)");
    g.fillStyle = grad;
    g.fillRect(0, 0, 256, 1);
    return g.getImageData(0, 0, 256, 1).data;
  }

  function stamp(radius) {
    var c = document.createElement("canvas");
    c.width = c.height = radius * 2;
    var g = c.getContext("2d");
    var grad = g.createRadialGradient(radius, radius, 0, radius, radius, radius);
    grad.addColorStop(0, "rgba(0,0,0,1)");
    grad.addColorStop(1, "rgba(0,0,0,0)");
    g.fillStyle = grad;
    g.fillRect(0, 0, radius * 2, radius * 2);
    return c;
  }

  // Element boxes in document coordinates, by selector (null: not found in this document).
  function boxes(doc, selectors) {
    var out = {};
    var win = doc.defaultView;
    selectors.forEach(function (selector) {
      if (selector in out) return;
      out[selector] = null;
      try {
        var el = doc.querySelector(selector);
        if (!el) return;
        var r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) {
          out[selector] = { x: r.left + win.scrollX, y: r.top + win.scrollY, w: r.width, h: r.height };
        }
      } catch (e) { /* a selector this browser cannot parse: fall back to coordinates */ }
    });
    return out;
  }

  // Clicks on elements where the snapshot has them; the rest by their recorded coordinates,
  // weighted by the share of clicks that could not be anchored.
  function placeClicks() {
    var doc = frameDocument();
    if (!doc || !data.anchors || !data.anchors.length) return { points: data.points, resolved: 0, boxes: {} };
    var found = boxes(doc, data.anchors.map(function (a) { return a.selector; }));
    var points = [];
    var resolved = 0;
    data.anchors.forEach(function (a) {
      var box = found[a.selector];
      if (!box) return;
      points.push({ x: box.x + a.ox * box.w, y: box.y + a.oy * box.h, count: a.count });
      resolved += a.count;
    });
    var rest = data.total > 0 ? Math.max(0, (data.total - resolved) / data.total) : 1;
    if (rest > 0.001) {
      data.points.forEach(function (p) { points.push({ x: p.x, y: p.y, count: p.count * rest }); });
    }
    return { points: points, resolved: resolved, boxes: found };
  }

  function drawHeat(g, points, radius, intensity) {
    var w = canvas.width, h = canvas.height;
    var max = 0;
    points.forEach(function (p) { if (p.count > max) max = p.count; });
    if (!max) return;
    var shadow = document.createElement("canvas");
    shadow.width = w; shadow.height = h;
    var s = shadow.getContext("2d");
    var dot = stamp(radius);
    points.forEach(function (p) {
      // Square root: one hot spot should not wash out everything else.
      s.globalAlpha = Math.min(1, Math.max(0.06, intensity * Math.sqrt(p.count / max)));
      s.drawImage(dot, Math.round(p.x - radius), Math.round(p.y - radius));
    });
    var img = s.getImageData(0, 0, w, h);
    var px = img.data;
    for (var i = 0; i < px.length; i += 4) {
      var a = px[i + 3];
      if (!a) continue;
      var o = a * 4;
      px[i] = palette[o]; px[i + 1] = palette[o + 1]; px[i + 2] = palette[o + 2];
      px[i + 3] = Math.min(220, 50 + a);
    }
    g.putImageData(img, 0, 0);
  }

  function drawScroll(g) {
    var rows = data.scroll || [];
    var h = canvas.height;
    g.font = "bold 13px system-ui, sans-serif";
    for (var i = 0; i < rows.length; i++) {
      var top = Math.round(rows[i].depth_pct / 100 * h);
      var bottom = i + 1 < rows.length ? Math.round(rows[i + 1].depth_pct / 100 * h) : h;
      if (bottom <= top) bottom = top + 1;
      var o = Math.min(255, Math.round(rows[i].visitors_pct / 100 * 255)) * 4;
      g.fillStyle = "rgba(" + palette[o] + "," + palette[o + 1] + "," + palette[o + 2] + ",0.42)";
      g.fillRect(0, top, canvas.width, bottom - top);
    }
    rows.forEach(function (row) {
      if (row.depth_pct % 10 !== 0 || row.depth_pct === 0) return;
      var y = Math.round(row.depth_pct / 100 * h);
      g.fillStyle = "rgba(15,23,42,0.75)";
      g.fillRect(0, y - 1, canvas.width, 2);
      var text = label("reached", { pct: row.visitors_pct });
      var tw = g.measureText(text).width;
      g.fillRect(8, y - 22, tw + 12, 20);
      g.fillStyle = "#fff";
      g.fillText(text, 14, y - 7);
    });
  }

  function draw() {
    if (!data) return;
    var g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    if (kind === "scroll") {
      drawScroll(g);
    } else {
      var radius = parseInt(radiusInput.value, 10) || 22;
      // 60 (the default) puts the hottest spot at full strength; higher saturates more spots.
      var intensity = (parseInt(intensityInput.value, 10) || 60) / 60;
      var points = kind === "click" ? placed.points : data.points;
      drawHeat(g, points, radius, intensity);
    }
    stage.setAttribute("data-state", "ready");
  }

  function measureHeight() {
    var doc = frameDocument();
    var fromData = data.page_height || 0;
    var maxY = 0;
    (data.points || []).forEach(function (p) { if (p.y > maxY) maxY = p.y; });
    var height = Math.max(fromData, maxY + 100, 600);
    if (doc) {
      var docH = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0);
      if (docH > 0) height = docH;
    }
    return Math.min(MAX_HEIGHT, Math.round(height));
  }

  function layout() {
    docHeight = measureHeight();
    stage.style.width = width + "px";
    stage.style.height = docHeight + "px";
    if (frame) {
      frame.style.width = width + "px";
      frame.style.height = docHeight + "px";
    }
    canvas.width = width;
    canvas.height = docHeight;
    canvas.style.width = width + "px";
    canvas.style.height = docHeight + "px";
    var scale = Math.min(1, (viewport.clientWidth || width) / width);
    stage.style.transform = "scale(" + scale + ")";
    viewport.style.height = Math.ceil(docHeight * scale) + "px";
    stage.setAttribute("data-scale", String(scale));
  }

  function fillPanel() {
    var tbody = document.querySelector("#heatmap-elements tbody");
    if (tbody) {
      tbody.textContent = "";
      (data.elements || []).forEach(function (el) {
        var tr = document.createElement("tr");
        [el.selector, String(el.count), (el.share || 0) + "%"].forEach(function (text) {
          var td = document.createElement("td");
          td.textContent = text; // tracked text: never HTML
          tr.appendChild(td);
        });
        tr.addEventListener("mouseenter", function () { outline(el.selector); tr.classList.add("hover"); });
        tr.addEventListener("mouseleave", function () { draw(); tr.classList.remove("hover"); });
        tbody.appendChild(tr);
      });
    }
    var rage = document.getElementById("heatmap-rage");
    if (rage) {
      rage.textContent = "";
      (data.rage || []).forEach(function (r) {
        var li = document.createElement("li");
        li.textContent = r.selector + " — " + r.count;
        rage.appendChild(li);
      });
    }
    var scrollBody = document.querySelector("#heatmap-scroll-table tbody");
    if (scrollBody) {
      scrollBody.textContent = "";
      (data.scroll || []).forEach(function (row) {
        if (row.depth_pct % 10 !== 0) return;
        var tr = document.createElement("tr");
        [row.depth_pct + "%", row.visitors_pct + "%"].forEach(function (text) {
          var td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
        });
        scrollBody.appendChild(tr);
      });
    }
  }

  function outline(selector) {
    var box = placed && placed.boxes ? placed.boxes[selector] : null;
    if (!box) return;
    var g = canvas.getContext("2d");
    g.strokeStyle = "rgba(52,97,217,0.95)";
    g.lineWidth = 3;
    g.strokeRect(box.x, box.y, box.w, box.h);
  }

  function describe() {
    if (!data.total) return label("empty", {});
    if (kind === "scroll") return label("views", { n: data.views });
    var text = label(kind === "click" ? "clicks" : "moves", { n: data.total });
    return text;
  }

  function render() {
    layout();
    placed = kind === "click" ? placeClicks() : null;
    stage.setAttribute("data-resolved", String(placed ? placed.resolved : 0));
    fillPanel();
    draw();
    summary.textContent = describe();
  }

  // The snapshot as an SVG image: its document serialised into a <foreignObject>, scripts dropped
  // and the (same-origin, stored) stylesheets inlined, since an SVG image loads nothing external.
  function snapshotImage() {
    var doc = frameDocument();
    if (!doc) return Promise.reject(new Error("no snapshot"));
    var css = [];
    Array.prototype.forEach.call(doc.styleSheets, function (sheet) {
      var rules = sheet.cssRules; // throws for another origin's sheet: the caller falls back
      Array.prototype.forEach.call(rules, function (rule) { css.push(rule.cssText); });
    });
    var root = doc.documentElement.cloneNode(true);
    Array.prototype.forEach.call(root.querySelectorAll("script, link, style, iframe, object, embed, noscript"),
      function (el) { el.remove(); });
    var head = root.querySelector("head") || root;
    var style = doc.createElement("style");
    style.textContent = css.join("\n");
    head.appendChild(style);
    var xml = new XMLSerializer().serializeToString(root);
    var svg = '<svg xmlns="http://www.w3.org/2000/svg" width="' + canvas.width + '" height="' + canvas.height +
      '"><foreignObject x="0" y="0" width="100%" height="100%">' + xml + "</foreignObject></svg>";
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error("snapshot image failed")); };
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
    });
  }

  function savePng(out, withPage) {
    stage.setAttribute("data-png", withPage ? "page" : "plain");
    var note = document.getElementById("heatmap-png-note");
    if (note) {
      note.textContent = withPage ? "" : (stage.getAttribute("data-label-png-fallback") || "");
      note.hidden = withPage;
    }
    out.toBlob(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "heatmap-" + kind + ".png";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }, "image/png");
  }

  function plainCanvas() {
    var out = document.createElement("canvas");
    out.width = canvas.width; out.height = canvas.height;
    var g = out.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, out.width, out.height);
    // Without the page, outline the elements we know instead.
    if (placed && placed.boxes) {
      g.strokeStyle = "rgba(100,116,139,0.6)";
      g.lineWidth = 1;
      Object.keys(placed.boxes).forEach(function (key) {
        var b = placed.boxes[key];
        if (b) g.strokeRect(b.x, b.y, b.w, b.h);
      });
    }
    g.drawImage(canvas, 0, 0);
    return out;
  }

  function download() {
    var started;
    try {
      started = snapshotImage();
    } catch (e) {
      started = Promise.reject(e);
    }
    started.then(function (img) {
      var out = document.createElement("canvas");
      out.width = canvas.width; out.height = canvas.height;
      var g = out.getContext("2d");
      g.fillStyle = "#fff";
      g.fillRect(0, 0, out.width, out.height);
      g.drawImage(img, 0, 0);
      g.drawImage(canvas, 0, 0);
      out.getContext("2d").getImageData(0, 0, 1, 1); // throws now if the page image tainted the canvas
      savePng(out, true);
    }).catch(function () {
      savePng(plainCanvas(), false);
    });
  }

  function frameReady() {
    return new Promise(function (resolve) {
      if (!frame || background !== "snapshot") return resolve();
      var doc = frameDocument();
      if (doc && doc.readyState === "complete" && doc.location.href !== "about:blank") return resolve();
      frame.addEventListener("load", function () { resolve(); }, { once: true });
      setTimeout(resolve, 8000); // a snapshot that never finishes loading: draw anyway
    });
  }

  palette = buildPalette();
  if (frame) {
    frame.style.width = width + "px";
    frame.style.height = "800px"; // a viewport-sized height while it loads, for layouts using vh
  }
  var api = stage.getAttribute("data-api");
  var fetched = fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.detail || ("HTTP " + r.status));
        return body;
      });
    });
  Promise.all([fetched, frameReady()]).then(function (results) {
    data = results[0];
    if (frame) frame.style.width = width + "px";
    // Let the snapshot lay out at the preview width before measuring element boxes.
    requestAnimationFrame(function () { requestAnimationFrame(render); });
  }).catch(function (err) {
    summary.textContent = String(err.message || err);
    stage.setAttribute("data-state", "error");
  });
  radiusInput.addEventListener("input", draw);
  intensityInput.addEventListener("input", draw);
  document.getElementById("heatmap-download").addEventListener("click", download);
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    if (!data) return;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 150);
  });
})();
