// netevd dashboard: the last hour's plots, drawn as SVG by hand from GET /api/v1/history.
// Every value from the daemon goes into the page as text or as an attribute, never as markup.
// Each drawn mark carries its data in data-* attributes (the tests compare them with the API).
"use strict";

window.NetevdPlots = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 720; // viewBox units; the element scales to its box
  const LEFT = 110; // room for link names and axis labels
  const PLOT = WIDTH - LEFT - 10;
  const PALETTE = [ // Tableau 10, then 6 more: neighbours in the type list stay apart
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#17becf",
  ];
  const STATE_CLASS = new Set(["off", "no-carrier", "carrier", "degraded", "routable", "gone"]);

  function node(tag, attrs, text) {
    const made = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) made.setAttribute(name, String(value));
    if (text !== undefined) made.textContent = String(text);
    return made;
  }

  function titled(mark, text) {
    mark.appendChild(node("title", {}, text));
    return mark;
  }

  function svg(id, height) {
    const box = document.getElementById(id);
    const drawing = node("svg", {
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "img",
      "aria-labelledby": `${id}-title`,
      class: "plot",
    });
    box.replaceChildren(drawing);
    return drawing;
  }

  function clock(ts) {
    return new Date(ts * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // The time axis of the window: x for a Unix time, and ticks every 15 minutes back from now.
  function timeAxis(drawing, history, y) {
    const start = history.now - history.window_seconds;
    const x = (ts) => LEFT + ((Math.max(ts, start) - start) / history.window_seconds) * PLOT;
    for (let back = 0; back <= history.window_seconds; back += 900) {
      const ts = history.now - back;
      drawing.appendChild(node("line", { x1: x(ts), x2: x(ts), y1: 0, y2: y, class: "grid" }));
      const label = back === 0 ? "now" : `−${back / 60} min`;
      drawing.appendChild(node("text", { x: x(ts), y: y + 14, class: "tick" }, label));
    }
    return x;
  }

  function colour(types, type) {
    const at = types.indexOf(type);
    return PALETTE[(at < 0 ? types.length : at) % PALETTE.length];
  }

  function eventsPerMinute(history, types) {
    const height = 180;
    const drawing = svg("plot-events", height + 20);
    const base = height - 10;
    const x = timeAxis(drawing, history, base);
    const totals = history.minutes.map((m) => Object.values(m.counts).reduce((a, b) => a + b, 0));
    const top = Math.max(1, ...totals);
    drawing.appendChild(node("text", { x: LEFT - 6, y: 12, class: "value" }, `${top}/min`));
    const seen = new Set();
    for (const minute of history.minutes) {
      const left = x(minute.start);
      const width = Math.max(1, x(minute.start + 60) - left - 1);
      let y = base;
      for (const type of Object.keys(minute.counts).sort()) {
        const count = minute.counts[type];
        const h = (count / top) * (base - 16);
        y -= h;
        seen.add(type);
        const bar = node("rect", {
          x: left, y, width, height: h, fill: colour(types, type), class: "bar",
          "data-minute": minute.start, "data-type": type, "data-count": count,
        });
        drawing.appendChild(titled(bar, `${clock(minute.start)} ${type}: ${count}`));
      }
    }
    legend("plot-events-legend", [...seen].sort(), (type) => colour(types, type));
  }

  function legend(id, names, paint) {
    const items = names.map((name) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = paint(name);
      item.append(swatch, document.createTextNode(name));
      return item;
    });
    document.getElementById(id).replaceChildren(...items);
  }

  function linkStates(history) {
    const row = 22;
    const height = Math.max(1, history.links.length) * row + 10;
    const drawing = svg("plot-states", height + 20);
    const x = timeAxis(drawing, history, height);
    history.links.forEach((link, at) => {
      const y = 5 + at * row;
      drawing.appendChild(node("text", { x: LEFT - 6, y: y + 14, class: "value" }, link.name));
      link.changes.forEach((change, i) => {
        const next = i + 1 < link.changes.length ? link.changes[i + 1].ts : history.now;
        const state = STATE_CLASS.has(change.state) ? change.state : "unknown";
        const segment = node("rect", {
          x: x(change.ts), y, width: Math.max(1, x(next) - x(change.ts)), height: row - 6,
          class: `segment state-${state}`, "data-link": link.name, "data-ifindex": link.ifindex,
          "data-state": change.state, "data-from": change.ts, "data-to": next,
        });
        drawing.appendChild(titled(segment, `${link.name}: ${change.state} from ${clock(change.ts)}`));
      });
    });
    if (!history.links.length) {
      drawing.appendChild(node("text", { x: LEFT, y: 18, class: "tick" }, "no interfaces followed"));
    }
  }

  function outcome(run) {
    if (run.timed_out) return "timeout";
    return run.exit_code === 0 ? "ok" : "failed";
  }

  // Durations on a log scale from 1 ms to the longest run (at least 1 s).
  function scriptDurations(history) {
    const height = 160;
    const drawing = svg("plot-scripts", height + 20);
    const base = height - 10;
    const x = timeAxis(drawing, history, base);
    const longest = Math.max(1, ...history.scripts.map((r) => r.duration));
    const low = Math.log10(0.001);
    const span = Math.log10(longest) - low;
    const y = (d) => base - ((Math.log10(Math.max(d, 0.001)) - low) / span) * (base - 10);
    for (const mark of [0.001, 0.01, 0.1, 1, 10, 100].filter((d) => d <= longest)) {
      drawing.appendChild(node("line", { x1: LEFT, x2: LEFT + PLOT, y1: y(mark), y2: y(mark), class: "grid" }));
      const label = mark < 1 ? `${mark * 1000} ms` : `${mark} s`;
      drawing.appendChild(node("text", { x: LEFT - 6, y: y(mark) + 4, class: "value" }, label));
    }
    for (const run of history.scripts) {
      const name = run.script.split("/").pop();
      const dot = node("circle", {
        cx: x(run.ts), cy: y(run.duration), r: 4, class: `run run-${outcome(run)}`,
        "data-seq": run.seq, "data-script": run.script, "data-directory": run.directory,
        "data-duration": run.duration, "data-outcome": outcome(run),
      });
      const took = `${Math.round(run.duration * 1000)} ms`;
      drawing.appendChild(titled(dot, `${clock(run.ts)} ${run.directory}/${name}: ${outcome(run)}, ${took}`));
    }
  }

  function render(history, types) {
    eventsPerMinute(history, types);
    linkStates(history);
    scriptDurations(history);
    const note = document.getElementById("plots-note");
    note.textContent = history.unfollowed_links
      ? `${history.unfollowed_links} interfaces not drawn (at most 64 are followed).`
      : "";
    document.getElementById("plots").dataset.now = String(history.now);
  }

  return { render };
})();
