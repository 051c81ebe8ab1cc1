/* pegload report page: builds tables and SVG charts from the JSON in #pegload-data.
 * No dependencies and no network: the page must open from a CI artefact or an e-mail. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#7f7f7f", "#bcbd22"];
  var KIND_STYLE = { response: "", service: "6 3", lateness: "2 3" };
  var CHAR_W = 6.2, CHAR_W_SMALL = 5.6;  // average glyph widths of the 11 px and 10 px chart text
  var DATA = JSON.parse(document.getElementById("pegload-data").textContent);

  // ------------------------------------------------------------------ small DOM helpers
  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function s(tag, attrs, children) {
    var e = document.createElementNS(NS, tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      if (attrs[k] === null || attrs[k] === undefined) return;
      if (k === "text") e.textContent = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
  }
  function append(e, children) {
    if (children === null || children === undefined) return;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
  }

  // ------------------------------------------------------------------ number formatting
  function fmtUs(us) {
    if (us === null || us === undefined) return "-";
    if (us < 1000) return Math.round(us) + " µs";
    if (us < 1e6) return (us < 1e5 ? (us / 1000).toPrecision(3) : Math.round(us / 1000)) + " ms";
    return (us / 1e6).toPrecision(3) + " s";
  }
  function fmtMs(ms) {
    if (ms === 0) return "0";
    if (Math.abs(ms) >= 100) return String(Math.round(ms));
    return String(+ms.toPrecision(3));
  }
  function fmtInt(n) {
    if (n === null || n === undefined) return "-";
    return Math.round(n).toLocaleString("en-US");
  }
  function fmtRate(n) {
    if (n === null || n === undefined) return "-";
    return n >= 100 ? fmtInt(n) : String(+n.toFixed(1));
  }
  function fmtPct(f) {
    // mirrors format_percent in pegload/report/percent.py (a unit test runs both over the same values)
    if (f === null || f === undefined) return "-";
    if (isNaN(f)) return "n/a";
    var sign = f < 0 ? "-" : "", a = Math.abs(f);
    if (!isFinite(a)) return sign + "inf%";
    if (a === 0) return "0%";
    if (a < 0.0001) return sign + "<0.01%";
    if (a > 0.9999 && a < 1) return sign + ">99.99%";
    var pct = a * 100;
    if (pct >= 100) return sign + Math.round(pct).toLocaleString("en-US") + "%";
    var text = String(+pct.toFixed(Math.max(0, 2 - Math.floor(Math.log10(pct)))));
    return sign + (text === "100" ? ">99.9" : text) + "%";
  }
  function fmtPercentileTick(k) {
    if (k === 0) return "0%";
    return (100 - Math.pow(10, 2 - k)).toFixed(Math.max(k - 2, 0)) + "%";
  }

  // ------------------------------------------------------------------ axes
  function niceStep(span, n) {
    var raw = span / Math.max(n, 1);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10) * mag;
  }
  function ticks(lo, hi, n) {
    var step = niceStep(hi - lo || 1, n);
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  /* A line chart. o = {title, series: [{name, color, dash, points: [[x, y|null], ...]}],
   *   xType: "linear" | "percentile" (x = 1/(1-q), drawn on log10), xLabel, yLabel,
   *   xFormat(x), yFormat(y), vlines: [{x, label, cls}]} (cls "event": a scenario event) */
  function lineChart(o) {
    var W = o.width || 580, H = o.height || 300, M = { l: 62, r: 24, t: 12, b: 44 };
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    var tx = o.xType === "percentile" ? function (x) { return Math.log10(x); } : function (x) { return x; };
    var xs = [], ys = [];
    o.series.forEach(function (se) {
      se.points.forEach(function (p) { xs.push(tx(p[0])); if (p[1] !== null) ys.push(p[1]); });
    });
    var wrap = h("figure", { class: "chart" }, h("figcaption", { text: o.title }));
    if (!ys.length) {
      wrap.appendChild(h("p", { class: "empty", text: "no samples" }));
      return wrap;
    }
    (o.vlines || []).forEach(function (v) { xs.push(tx(v.x)); });  // a phase's start mark is on the axis
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    if (o.xType === "percentile") { x0 = 0; x1 = Math.max(Math.ceil(x1), 1); }
    else if (o.xFromZero) x0 = Math.min(x0, 0);
    if (x1 === x0) x1 = x0 + 1;
    var yMax = Math.max.apply(null, ys) || 1;
    var yStep = niceStep(yMax, 5);
    var y1 = Math.ceil(yMax * 1.02 / yStep) * yStep;
    var yTicks = ticks(0, y1, 5);
    function X(x) { return M.l + (tx(x) - x0) / (x1 - x0) * pw; }
    function Xt(t) { return M.l + (t - x0) / (x1 - x0) * pw; }
    function Y(y) { return M.t + ph - y / y1 * ph; }
    var svg = s("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": o.title });
    var grid = s("g", { class: "axes" });
    yTicks.forEach(function (v) {
      grid.appendChild(s("line", { x1: M.l, x2: M.l + pw, y1: Y(v), y2: Y(v) }));
      grid.appendChild(s("text", { x: M.l - 6, y: Y(v) + 4, "text-anchor": "end", text: (o.yFormat || fmtMs)(v) }));
    });
    var xt = o.xType === "percentile" ? ticks(0, x1, Math.min(x1, 8)).filter(function (k) { return k === Math.round(k); })
      : ticks(x0, x1, 6);
    xt.forEach(function (t) {
      grid.appendChild(s("line", { x1: Xt(t), x2: Xt(t), y1: M.t, y2: M.t + ph }));
      var label = o.xType === "percentile" ? fmtPercentileTick(t) : (o.xFormat || String)(t);
      // a label that would run past either edge of the picture is anchored inside it
      var half = label.length * CHAR_W / 2, anchor = "middle";
      if (Xt(t) + half > W - 2) anchor = "end";
      else if (Xt(t) - half < 2) anchor = "start";
      grid.appendChild(s("text", { class: "xtick", x: Xt(t), y: M.t + ph + 16, "text-anchor": anchor, text: label }));
    });
    svg.appendChild(grid);
    // phase labels: each on the first row where it does not overlap the labels already placed
    var rowsEnd = [];
    (o.vlines || []).forEach(function (v) {
      if (v.x < x0 || v.x > x1) return;
      var x = Xt(v.x), w = v.label.length * CHAR_W_SMALL + 6, row = 0;
      var anchorEnd = x + 3 + w > M.l + pw;
      var left = anchorEnd ? x - 3 - w : x;  // the span the label takes, whichever side it is on
      while (rowsEnd[row] !== undefined && rowsEnd[row] > left) row++;
      rowsEnd[row] = anchorEnd ? x : x + 3 + w;
      svg.appendChild(s("line", { class: v.cls || "vline", x1: x, x2: x, y1: M.t, y2: M.t + ph }));
      svg.appendChild(s("text", { class: v.cls ? v.cls + "-label" : "vlabel", x: anchorEnd ? x - 3 : x + 3, y: M.t + 10 + row * 11,
        "text-anchor": anchorEnd ? "end" : "start", text: v.label }));
    });
    svg.appendChild(s("rect", { class: "frame", x: M.l, y: M.t, width: pw, height: ph }));
    svg.appendChild(s("text", { class: "axis-label", x: M.l + pw / 2, y: H - 6, "text-anchor": "middle", text: o.xLabel }));
    svg.appendChild(s("text", { class: "axis-label", x: 12, y: M.t + ph / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (M.t + ph / 2) + ")", text: o.yLabel }));
    o.series.forEach(function (se) {
      var d = "", pen = false;
      se.points.forEach(function (p) {
        if (p[1] === null) { pen = false; return; }
        d += (pen ? "L" : "M") + X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1);
        pen = true;
      });
      if (!d) return;
      var path = s("path", { class: "series", d: d, stroke: se.color, "stroke-dasharray": se.dash || null,
        "data-series": se.name }, s("title", { text: se.name }));
      svg.appendChild(path);
    });
    addHover(svg, o, X, Y, M, pw, ph, x0, x1);
    wrap.appendChild(svg);
    wrap.appendChild(h("div", { class: "legend" }, o.series.map(function (se) {
      return h("span", { class: "key" }, [
        s("svg", { width: 22, height: 10 }, s("line", { x1: 0, x2: 22, y1: 5, y2: 5, stroke: se.color,
          "stroke-width": 2.5, "stroke-dasharray": se.dash || null })), " " + se.name]);
    })));
    return wrap;
  }

  function addHover(svg, o, X, Y, M, pw, ph, x0, x1) {
    var cursor = s("line", { class: "cursor", x1: 0, x2: 0, y1: M.t, y2: M.t + ph, visibility: "hidden" });
    var tip = s("text", { class: "tip", x: 0, y: 0, visibility: "hidden" });
    var overlay = s("rect", { x: M.l, y: M.t, width: pw, height: ph, fill: "transparent" });
    svg.appendChild(cursor);
    svg.appendChild(tip);
    svg.appendChild(overlay);
    overlay.addEventListener("mousemove", function (ev) {
      var box = svg.getBoundingClientRect();
      var px = (ev.clientX - box.left) * (svg.viewBox.baseVal.width / box.width);
      var lines = [];
      var cx = null;
      o.series.forEach(function (se) {
        var best = null;
        se.points.forEach(function (p) {
          if (p[1] === null) return;
          if (best === null || Math.abs(X(p[0]) - px) < Math.abs(X(best[0]) - px)) best = p;
        });
        if (best) {
          if (cx === null) cx = best;
          lines.push(se.name + ": " + (o.yFormat || fmtMs)(best[1]));
        }
      });
      if (cx === null) return;
      var head = o.xType === "percentile" ? (100 * (1 - 1 / cx[0])).toPrecision(6) + "%" : (o.xFormat || String)(cx[0]);
      cursor.setAttribute("x1", X(cx[0]));
      cursor.setAttribute("x2", X(cx[0]));
      cursor.setAttribute("visibility", "visible");
      while (tip.firstChild) tip.removeChild(tip.firstChild);
      var tx = Math.min(X(cx[0]) + 8, M.l + pw - 150);
      [head].concat(lines).forEach(function (line, i) {
        tip.appendChild(s("tspan", { x: tx, y: M.t + 14 + i * 13, text: line }));
      });
      tip.setAttribute("visibility", "visible");
    });
    overlay.addEventListener("mouseleave", function () {
      cursor.setAttribute("visibility", "hidden");
      tip.setAttribute("visibility", "hidden");
    });
  }

  // ------------------------------------------------------------------ tables
  // columns from index numFrom on hold numbers (right-aligned)
  function table(headers, rows, cls, numFrom) {
    var from = numFrom === undefined ? headers.length : numFrom;
    var named = headers.some(function (c) { return c; });  // a key/value table has no header row
    return h("table", { class: cls || "" }, [
      named ? h("thead", null, h("tr", null, headers.map(function (c, i) { return h("th", { text: c, class: i >= from ? "num" : null }); }))) : null,
      h("tbody", null, rows.map(function (r) {
        return h("tr", { class: r.cls || null }, (r.cells || r).map(function (c, i) {
          return h("td", { text: c === null || c === undefined ? "-" : String(c), class: i >= from ? "num" : null });
        }));
      }))
    ]);
  }
  function kvTable(obj) {
    return table(["", ""], Object.keys(obj || {}).map(function (k) {
      var v = obj[k];
      return [k, v !== null && typeof v === "object" ? JSON.stringify(v) : v];
    }), "kv");
  }
  function section(title, children, id) {
    return h("section", { id: id || null }, [h("h2", { text: title })].concat(children));
  }

  // ------------------------------------------------------------------ time series
  // Interval rows as objects. A sliver of an interval (under a quarter of the interval length:
  // the last few ops of a drain) is left out: a rate or a p99 over a few ms says nothing.
  function tsRows(ts) {
    var col = {};
    ts.columns.forEach(function (c, i) { col[c] = i; });
    return ts.rows.map(function (r) {
      var o = {};
      Object.keys(col).forEach(function (c) { o[c] = r[col[c]]; });
      return o;
    }).filter(function (o) { return o.duration >= 0.25 * (ts.interval_s || 1); });
  }
  function opsOf(rows) {
    var seen = [];
    rows.forEach(function (r) { if (seen.indexOf(r.op) < 0) seen.push(r.op); });
    return seen.sort();
  }
  function phaseMarks(rows) {
    var first = {};
    rows.forEach(function (r) { if (!(r.phase in first) || r.start < first[r.phase]) first[r.phase] = r.start; });
    return Object.keys(first).map(function (p) { return { x: first[p], label: p }; })
      .sort(function (a, b) { return a.x - b.x; });
  }
  // one point per interval at its midpoint; a null point breaks the line between phases
  function seriesFor(rows, op, value) {
    var out = [], phase = null;
    rows.filter(function (r) { return r.op === op; })
      .sort(function (a, b) { return a.start - b.start; })
      .forEach(function (r) {
        if (phase !== null && r.phase !== phase) out.push([r.start, null]);
        phase = r.phase;
        out.push([r.start + r.duration / 2, value(r)]);
      });
    return out;
  }
  function totalThroughput(rows) {
    var by = {};
    rows.forEach(function (r) {
      var k = r.phase + "@" + r.start;
      if (!by[k]) by[k] = { t: r.start + r.duration / 2, n: 0, d: r.duration, phase: r.phase };
      by[k].n += r.count;
    });
    var out = [], phase = null;
    Object.keys(by).map(function (k) { return by[k]; })
      .sort(function (a, b) { return a.t - b.t; })
      .forEach(function (b) {
        if (phase !== null && b.phase !== phase) out.push([b.t, null]);
        phase = b.phase;
        out.push([b.t, b.n / b.d]);
      });
    return out;
  }
  function secs(x) { return (+x.toPrecision(4)) + " s"; }

  // ------------------------------------------------------------------ server view and events
  // A scenario event as a marker on every time plot (x: seconds since the run's start).
  function eventMarks(events) {
    return (events || []).filter(function (e) { return e.t !== null && e.t !== undefined; }).map(function (e) {
      return { x: e.t, label: "⚡ " + e.label, cls: "event" };
    });
  }
  function recoveryText(r, isRate) {
    if (!r || r.s === null || r.s === undefined) return r && r.limit_from === null ? "no baseline" : "-";
    var lim = r.limit_us !== undefined ? fmtUs(r.limit_us) : fmtPct(r.limit);
    return (r.recovered ? secs(r.s) : "not within " + secs(r.s)) + " (limit " + lim + ", " + r.limit_from + ")";
  }
  function eventsSection(events) {
    var rows = events.map(function (e) {
      var a = e.attributed || {}, rec = e.recovery || {};
      var when = e.at_actual_s === null ? "-" : secs(e.at_actual_s) + (e.late_s > 0.05 ? " (" + secs(e.late_s) + " late)" : "");
      var outcome = e.outcome + (e.exit_code !== undefined && e.exit_code !== null ? " (exit " + e.exit_code + ")" : "") +
        (e.error ? ": " + e.error : "");
      var errs = a.error_count === undefined ? "-" : fmtInt(a.error_count) + (a.timeouts ? " (" + fmtInt(a.timeouts) + " timeouts)" : "") +
        (a.error_count ? ": " + Object.keys(a.errors).map(function (c) { return c + " " + fmtInt(a.errors[c]); }).join(", ") : "");
      return { cells: [e.label, e.phase, secs(e.at_s), when, outcome, rec.p99 ? fmtUs(rec.p99.peak_us) : "-",
        recoveryText(rec.p99), recoveryText(rec.errors), errs], cls: e.outcome === "ok" ? null : "regression" };
    });
    var out = [table(["event", "phase", "planned", "ran at", "outcome", "peak p99", "p99 recovered after",
      "errors recovered after", "errors in the event's window"], rows, "numbers events", 5)];
    events.forEach(function (e) {
      if (e.output) out.push(h("details", null, [h("summary", { text: "output of " + e.label }), h("pre", { text: e.output })]));
    });
    out.push(h("p", { class: "sub", text: "Recovery: time from the event until the client's per-interval (1 s) p99 of all " +
      "ops, or error rate, is back under its limit for 3 intervals in a row: the scenario's SLO, else the higher of " +
      "twice the pre-event median p99 and the worst pre-event interval + 25% / the pre-event error rate + 0.1 point. Errors are counted from the event until it recovered." }));
    return out;
  }
  function serverSection(sv, fromT, marks) {
    if (!sv.captured) return [h("p", { id: "no-server", text: "Server metrics not captured: " + sv.why })];
    var out = [];
    (sv.warnings || []).forEach(function (w) {
      out.push(h("div", { class: "banner invalid server-warning" }, [h("strong", { text: "Server vs client: " }), h("span", { text: w })]));
    });
    out.push(table(["phase", "op", "server op", "counted", "client ops", "server requests", "server / client",
      "client response p99", "client service p99", "server p99"], (sv.comparison || []).map(function (r) {
        return [r.phase, r.op, r.server_op, r.counted, fmtInt(r.client_count), fmtInt(r.server_count),
          r.ratio === null ? "-" : (+r.ratio.toFixed(3)) + "×", fmtUs(r.client_response_p99_us),
          fmtUs(r.client_service_p99_us), fmtUs(r.server_p99_us)];
      }), "numbers server-compare", 4));
    out.push(h("p", { class: "sub", text: "A read counts once, on the primary that served it; a write counts on every " +
      "replica that applied it (3 copies by default), so writes show about 3× here. Server p99: the highest of the " +
      "replica servers, as each reported it at the end of the measured phases (the server's percentiles cover its " +
      "last samples, per partition; the highest partition is taken). Service minus server time is network, " +
      "queueing and client; response adds the wait behind the schedule." }));
    var series = sv.replicas.map(function (r, i) {
      // the measured phases only, as the client's charts (a load phase would set the scale)
      var pts = r.timeseries.rows.filter(function (x) { return x[1] > 0 && x[0] + x[1] > fromT; }).map(function (x) {
        if (x[2] === null) return [x[0] + x[1] / 2, null];  // failed reads (server down): a gap
        var n = 0;
        Object.keys(x[2]).forEach(function (op) { n += x[2][op]; });
        return [x[0] + x[1] / 2, n / x[1]];
      });
      return { name: r.address + (r.resets ? " (restarted)" : ""), color: PALETTE[i % PALETTE.length], points: pts };
    });
    out.push(h("div", { class: "charts" }, [lineChart({ title: "requests per replica server (all ops; writes count per copy)",
      series: series, xLabel: "seconds since start", yLabel: "requests/s", yFormat: fmtRate, xFormat: secs, vlines: marks })]));
    var rows = sv.replicas.map(function (r) {
      var n = 0;
      Object.keys(r.requests).forEach(function (op) { n += r.requests[op]; });
      return [r.address, fmtInt(n), Object.keys(r.requests).map(function (op) { return op + " " + fmtInt(r.requests[op]); }).join(", "),
        r.latency_us.get ? fmtUs(r.latency_us.get.p99) : "-", fmtInt(r.resets)];
    });
    out.push(table(["replica server", "requests (measured)", "by op", "get p99 (server)", "restarts seen"], rows, "numbers replicas", 1));
    if ((sv.errors || []).length) out.push(table(["server", "could not be read", "reads"], sv.errors.map(function (e) {
      return [e.server || "-", e.error, e.reads === undefined ? "-" : fmtInt(e.reads)];
    }), "errors server-errors", 2));
    return out;
  }

  // ------------------------------------------------------------------ run page
  var LIMITED_BY = { client: "the client, not the server, limited this run.",
    target: "the target failed during the run.", run: "the run did not complete as planned." };
  var REASON_NAMES = { rate: "achieved rate", interval_rate: "rate in an interval", overrun: "overrun",
    dropped: "dropped ops", greenlets: "greenlet shortage", lateness_tail: "lateness tail", loop_lag: "loop lag",
    cpu: "client CPU", bookkeeping: "bookkeeping", worker_lost: "worker lost", unsent: "unsent ops",
    target_lost: "target lost" };
  function fmtFigure(d) {
    if (d.value === null || d.value === undefined) return "-";
    if (d.unit === "share") return fmtPct(d.value) + (d.limit !== null ? " (limit " + fmtPct(d.limit) + ")" : "");
    if (d.unit === "core") return fmtPct(d.value) + " of a core (limit " + fmtPct(d.limit) + ")";
    if (d.unit === "ms") return fmtMs(d.value) + " ms (limit " + fmtMs(d.limit) + " ms)";
    if (d.unit === "s") return (+d.value.toPrecision(3)) + " s";
    return fmtInt(d.value) + (d.unit ? " " + d.unit : "");
  }
  // The verdict: VALID, or what limited the run, each reason with its figure and limit.
  function banner(validity, run) {
    var bad = !validity.valid;
    var state = run.status !== "completed" ? " Run " + run.status + (run.error ? ": " + run.error : "") + "." : "";
    var details = validity.details || [];
    var body;
    if (details.length) {
      body = table(["reason", "phase", "figure", "what it means"], details.map(function (d) {
        return [REASON_NAMES[d.reason] || d.reason, d.phase || (d.worker !== null ? "worker " + d.worker : "-"),
          fmtFigure(d), d.text];
      }), "reasons wrap", 9);
    } else {
      var items = (validity.reasons || []).concat((run.crashed_workers || []).map(function (w) {
        return "worker " + w.worker_id + " lost: " + w.reason; }));
      body = items.length ? h("ul", null, items.map(function (r) { return h("li", { text: r }); })) : null;
    }
    var cautions = validity.cautions || [];
    var head = bad ? "NOT VALID: " + (LIMITED_BY[validity.limited_by] || LIMITED_BY.client) :
      "VALID: the load generator kept up" + (cautions.length ? ", below the tails named here (not judged)." : ".");
    // a caution leaves the run valid but names latency stats the client's own delays fill
    var cautionTable = cautions.length ? table(["caution", "phase", "not judged", "what it means"], cautions.map(function (c) {
      return [REASON_NAMES[c.reason] || c.reason, c.phase || "-",
        (c.stats || []).map(function (s) { return s === "p999" ? "p99.9" : s; }).join(", "), c.text];
    }), "reasons wrap", 9) : null;
    return h("div", { id: "validity", class: "banner " + (bad ? "invalid" : "valid") + (state || cautions.length ? " warn" : "") }, [
      h("strong", { text: head }), state ? h("span", { text: state }) : null, body, cautionTable
    ]);
  }

  // The self-check, per phase: the schedule figures, then one row per worker.
  function selfCheckSection(sc, phases) {
    var out = [];
    var byName = {};
    phases.forEach(function (p) { byName[p.name] = p; });
    Object.keys((sc && sc.phases) || {}).forEach(function (name) {
      var ph = sc.phases[name], f = ph.figures || {}, p = byName[name] || {};
      var facts = [];
      if (f.rate) facts.push(["rate on time", fmtRate(f.rate.achieved_ops_s) + " of " + fmtRate(f.rate.target_ops_s) +
        " ops/s (" + fmtPct(f.rate.shortfall) + " short)"]);
      if (f.worst_interval) facts.push(["worst interval", fmtInt(f.worst_interval.count) + " of " +
        fmtInt(f.worst_interval.expected) + " planned ops, " + secs(f.worst_interval.t0) + "-" + secs(f.worst_interval.t1)]);
      if (f.overrun_s !== undefined) facts.push(["ran past the plan", secs(f.overrun_s)]);
      if (p.drain && p.drain.ops) facts.push(["drain", fmtInt(p.drain.ops) + " ops sent after the planned end"]);
      if (ph.unsent) facts.push(["unsent", fmtInt(ph.unsent) + " ops of lost workers"]);
      if (f.behind) facts.push(["waited for a greenlet", fmtInt(f.behind.ops) + " ops (" + fmtPct(f.behind.share) +
        "), mean wait " + fmtUs(f.behind.mean_wait_us)]);
      if (f.lateness_tail) facts.push(["lateness vs response", "p99.9 " + fmtUs(f.lateness_tail.lateness_p999_us) +
        " vs " + fmtUs(f.lateness_tail.response_p999_us) + "; max " + fmtUs(f.lateness_tail.lateness_max_us) +
        " vs " + fmtUs(f.lateness_tail.response_max_us)]);
      facts.push(["ops sent / recorded / dropped", fmtInt(ph.ops_sent) + " / " + fmtInt(ph.ops_recorded) + " / " + fmtInt(ph.dropped)]);
      facts.push(["retries / reconnections", fmtInt(ph.retry_count || 0) + " / " + fmtInt(ph.reconnects || 0)]);
      var workers = Object.keys(ph.workers || {}).map(function (w) {
        var x = ph.workers[w], r = 0;
        Object.keys(x.retries || {}).forEach(function (op) { Object.keys(x.retries[op]).forEach(function (c) { r += x.retries[op][c]; }); });
        return [w, fmtInt(x.intervals), fmtPct(x.cpu_mean), fmtPct(x.cpu_max), fmtMs(x.loop_lag_max_ms) + " ms",
          fmtMs(x.loop_lag_mean_ms) + " ms", fmtMs(x.gc_pause_max_ms) + " ms", fmtInt(x.behind || 0),
          fmtInt(r), fmtInt(x.reconnects || 0), x.timer || "-"];
      });
      out.push(h("h3", { text: "Phase " + name }));
      out.push(table(["", ""], facts, "kv facts"));
      out.push(table(["worker", "intervals", "CPU mean", "CPU max", "loop lag max", "loop lag mean", "GC pause max",
        "behind", "retries", "reconnects", "timer"], workers, "numbers selfcheck", 1));
    });
    return out;
  }

  function retryTable(phases) {
    var rows = [];
    phases.forEach(function (p) {
      Object.keys(p.ops).forEach(function (op) {
        var r = p.ops[op].retries || {};
        Object.keys(r).forEach(function (cause) {
          if (r[cause]) rows.push([p.name, op, cause, fmtInt(r[cause]), fmtPct(r[cause] / p.ops[op].count)]);
        });
      });
      if (p.all.reconnects) rows.push([p.name, "all", "reconnections", fmtInt(p.all.reconnects), "-"]);
    });
    if (!rows.length) return h("p", { id: "no-retries", text: "No retries, no reconnections." });
    return table(["phase", "op", "retried after", "count", "per op"], rows, "errors", 3);
  }

  function phaseTable(phase) {
    var rows = Object.keys(phase.ops).map(function (op) { return opRow(op, phase.ops[op]); });
    var all = opRow("all", phase.all);
    all.cls = "total";
    rows.push(all);
    return table(["op", "count", "ops/s", "p50", "p90", "p99", "p99.9", "max", "mean", "errors", "retries", "misses",
      "verify errors"], rows, "numbers", 1);
  }
  function opRow(op, e) {
    var r = e.latency_us.response;
    return [op, fmtInt(e.count), fmtRate(e.throughput), fmtUs(r.p50), fmtUs(r.p90), fmtUs(r.p99),
      fmtUs(r.p999), fmtUs(r.max), fmtUs(r.mean), fmtInt(e.error_count) + (e.error_count ? " (" + fmtPct(e.error_rate) + ")" : ""),
      fmtInt(e.retry_count || 0), fmtInt(e.misses), fmtInt(e.verification_errors)];
  }
  function phaseTitle(p) {
    var shape = p.mode === "open" ? "open loop at " + fmtInt(p.target_rate) + " ops/s" +
      (p.arrivals ? ", " + p.arrivals + " arrivals" : "") : "closed loop";
    return "Phase " + p.name + " (" + p.kind + ", " + shape + ", " + (p.duration_s === null ? "?" : secs(p.duration_s)) + ")";
  }

  function spectrumCharts(spectra) {
    return spectra.map(function (sp) {
      var series = Object.keys(sp.kinds).map(function (kind, i) {
        return { name: kind, color: PALETTE[i], dash: KIND_STYLE[kind],
          points: sp.kinds[kind].map(function (p) { return [p[0], p[1] / 1000]; }) };
      });
      return lineChart({ title: sp.phase + " / " + sp.op + ": latency by percentile", series: series,
        xType: "percentile", xLabel: "percentile", yLabel: "latency (ms)" });
    });
  }

  function errorTable(phases) {
    var rows = [];
    phases.forEach(function (p) {
      Object.keys(p.ops).forEach(function (op) {
        var e = p.ops[op];
        Object.keys(e.errors).forEach(function (code) {
          rows.push([p.name, op, code, fmtInt(e.errors[code]), fmtPct(e.errors[code] / e.count)]);
        });
        if (e.verification_errors) rows.push([p.name, op, "verification error", fmtInt(e.verification_errors),
          fmtPct(e.verification_errors / e.count)]);
        ["response", "service", "lateness"].forEach(function (kind) {
          var o = e.out_of_range[kind];
          if (o && (o.below || o.above)) rows.push([p.name, op, kind + " out of histogram range (clamped)",
            fmtInt(o.below + o.above), fmtPct((o.below + o.above) / e.count)]);
        });
      });
    });
    if (!rows.length) return h("p", { id: "no-errors", text: "No errors." });
    return table(["phase", "op", "error", "count", "% of op"], rows, "errors", 3);
  }

  function renderRun(d) {
    var root = document.getElementById("app");
    var run = d.run;
    root.appendChild(h("header", null, [
      h("h1", { text: "pegload: " + run.scenario_name }),
      h("p", { class: "sub", text: run.id + " · " + run.started_at + " · " + secs(run.duration_s) + " · target " +
        d.target_label + " · " + run.workers + " workers × " + run.concurrency + " greenlets" })
    ]));
    root.appendChild(banner(d.validity, run));
    if (d.thresholds.length) {
      root.appendChild(section("Thresholds", [table(["threshold", "phase", "measured", "verdict"],
        d.thresholds.map(function (t) {
          var shown = t.actual === null ? "no data" : t.kind ? fmtUs(t.actual) : t.metric.indexOf("recovery_") === 0 ? secs(t.actual) :
            t.metric.slice(-5) === "_rate" ? fmtPct(t.actual) : t.metric === "throughput" ? fmtRate(t.actual) + " ops/s" : fmtInt(t.actual);
          if (t.unmet) shown += " (" + t.unmet + ")";
          return { cells: [t.threshold, t.phase || "measured", shown, t.verdict], cls: t.passed ? null : "regression" };
        }))], "thresholds"));
    }
    d.phases.forEach(function (p) {
      root.appendChild(section(phaseTitle(p), [phaseTable(p)], "phase-" + p.name));
    });
    root.appendChild(section("Latency by percentile (response: from intended start; service: send to reply; lateness: pacing)",
      [h("div", { class: "charts" }, spectrumCharts(d.spectra))], "spectra"));
    var loadPhases = d.phases.filter(function (p) { return p.kind === "load"; }).map(function (p) { return p.name; });
    var rows = tsRows(d.timeseries);
    var measured = rows.filter(function (r) { return loadPhases.indexOf(r.phase) < 0; });
    if (measured.length) rows = measured;  // the load phase has its own table; it would set the scale
    var ops = opsOf(rows), marks = phaseMarks(rows).concat(eventMarks(d.events));
    var thr = ops.map(function (op, i) {
      return { name: op, color: PALETTE[i % PALETTE.length], points: seriesFor(rows, op, function (r) { return r.count / r.duration; }) };
    });
    if (ops.length > 1) thr.push({ name: "all ops", color: "#333", dash: "4 2", points: totalThroughput(rows) });
    var p99 = ops.map(function (op, i) {
      return { name: op, color: PALETTE[i % PALETTE.length], points: seriesFor(rows, op, function (r) {
        return r["response.p99"] === null ? null : r["response.p99"] / 1000; }) };
    });
    root.appendChild(section("Over time", [h("div", { class: "charts" }, [
      lineChart({ title: "throughput", series: thr, xLabel: "seconds since start", yLabel: "ops/s",
        yFormat: fmtRate, xFormat: secs, vlines: marks }),
      lineChart({ title: "p99 response time per interval", series: p99, xLabel: "seconds since start",
        yLabel: "p99 (ms)", xFormat: secs, vlines: marks })
    ])], "timeseries"));
    if (d.events.length) root.appendChild(section("Events", eventsSection(d.events), "events"));
    if (d.server) root.appendChild(section("Server view (the servers' own /metrics beside the client's figures)",
      serverSection(d.server, rows.length ? Math.min.apply(null, rows.map(function (r) { return r.start; })) : 0, marks),
      "server"));
    root.appendChild(section("Errors", [errorTable(d.phases)], "errors"));
    root.appendChild(section("Retries and reconnections (the client retried these; they are not errors)",
      [retryTable(d.phases)], "retries"));
    root.appendChild(section("Target", [kvTable(d.target)], "target"));
    if (d.self_check && Object.keys(d.self_check).length) root.appendChild(section("Self-check",
      selfCheckSection(d.self_check, d.phases), "self-check"));
    root.appendChild(section("Environment", [kvTable(d.environment)], "environment"));
    root.appendChild(section("Scenario", [h("p", { class: "sub", text: d.scenario_hash }),
      h("pre", { text: JSON.stringify(d.scenario, null, 2) })], "scenario"));
  }

  // ------------------------------------------------------------------ compare page
  function renderCompare(d) {
    var root = document.getElementById("app");
    root.appendChild(h("header", null, [h("h1", { text: "pegload comparison: " + d.runs.map(function (r) { return r.label; }).join(" vs ") })]));
    var c = d.comparability;
    root.appendChild(h("div", { id: "validity", class: "banner " + (c.comparable ? "valid" : "invalid") }, [
      h("strong", { text: c.comparable ? "Comparable: same scenario and load shape." : "Not directly comparable:" }),
      c.differences.length ? h("ul", null, c.differences.map(function (x) { return h("li", { text: x }); })) : null
    ]));
    var invalid = d.runs.filter(function (r) { return !r.validity.valid; });
    if (invalid.length) root.appendChild(h("div", { class: "banner invalid" }, [h("strong", { text: "Runs marked NOT VALID:" }),
      h("ul", null, invalid.map(function (r) { return h("li", { text: r.label + ": " + r.validity.reasons.join("; ") }); }))]));
    root.appendChild(section("Runs", [table(["", "run", "target", "partitions", "labels", "status", "started"],
      d.runs.map(function (r, i) {
        return [String.fromCharCode(65 + i), r.run_id, r.target_name, r.target.partition_count,
          JSON.stringify(r.target.labels || {}), r.status, r.started_at];
      }))], "runs"));
    root.appendChild(section("Figures (each run beside the first; ratio = run / first)", [table(d.table.headers, d.table.rows, "numbers", 3)], "figures"));
    d.ops.forEach(function (op) {
      var charts = [];
      var sp = d.spectra[op] || [];
      charts.push(lineChart({ title: op + ": response time by percentile", xType: "percentile", xLabel: "percentile",
        yLabel: "latency (ms)", series: sp.map(function (x, i) {
          return { name: x.label, color: PALETTE[i % PALETTE.length], points: x.points.map(function (p) { return [p[0], p[1] / 1000]; }) };
        }) }));
      var thr = [], p99 = [];
      d.runs.forEach(function (r, i) {
        var rows = tsRows(r.timeseries);
        thr.push({ name: r.label, color: PALETTE[i % PALETTE.length], points: seriesFor(rows, op, function (x) { return x.count / x.duration; }) });
        p99.push({ name: r.label, color: PALETTE[i % PALETTE.length], points: seriesFor(rows, op, function (x) {
          return x["response.p99"] === null ? null : x["response.p99"] / 1000; }) });
      });
      charts.push(lineChart({ title: op + ": throughput", series: thr, xLabel: "seconds since start", yLabel: "ops/s", yFormat: fmtRate, xFormat: secs, xFromZero: true }));
      charts.push(lineChart({ title: op + ": p99 response per interval", series: p99, xLabel: "seconds since start", yLabel: "p99 (ms)", xFormat: secs, xFromZero: true }));
      root.appendChild(section("Op " + op, [h("div", { class: "charts" }, charts)], "op-" + op));
    });
  }

  (DATA.kind === "compare" ? renderCompare : renderRun)(DATA);
  document.body.setAttribute("data-rendered", "true");
})();
