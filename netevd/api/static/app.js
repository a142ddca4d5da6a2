// netevd dashboard: read-only. Every value from the daemon goes into the page as text
// (textContent, never parsed as HTML): interface names may hold "<script>".
"use strict";

(() => {
  const MAX_EVENTS = 200;
  const INITIAL_EVENTS = 50;
  const SPECIAL_TABLES = new Set([253, 254, 255]);
  const REFRESH_DELAY_MS = 100; // a burst of events causes one refresh
  const PLOT_REFRESH_MS = 30000; // the plots' hour moves on even when nothing happens
  let eventTypes = [];

  const byId = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function row(cells) {
    const tr = el("tr");
    for (const cell of cells) {
      const td = el("td");
      if (cell instanceof Node) td.appendChild(cell);
      else td.textContent = cell === null || cell === undefined ? "" : String(cell);
      tr.appendChild(td);
    }
    return tr;
  }

  function lines(values) {
    const box = el("div");
    for (const value of values) box.appendChild(el("div", value));
    return box;
  }

  function showError(message) {
    const box = byId("error");
    box.textContent = message;
    box.hidden = !message;
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!body.success) throw new Error(`${path}: ${body.error || response.statusText}`);
    return body.data;
  }

  function renderStatus(status) {
    const c = status.counts;
    byId("status").textContent =
      `v${status.version} · backend ${status.backend} · ${status.ready ? "ready" : "starting"} · ` +
      `${c.interfaces} interfaces · ${c.rules} rules · ${c.routes} routes · ${c.events} events · ` +
      `scripts ${c.scripts_run} run, ${c.scripts_failed} failed`;
  }

  function renderInterfaces(links) {
    const rows = links.map((link) => {
      const tr = row([
        link.ifindex,
        el("span", link.name, "ifname"),
        el("span", link.kernel_state, `state state-${link.kernel_state}`),
        link.carrier ? "yes" : "no",
        link.operstate,
        link.mtu,
        link.mac || "",
        lines(link.addresses.filter((a) => !a.link_local).map((a) => `${a.address}/${a.prefixlen}`)),
        lines([link.gateway, link.gateway6].filter(Boolean)),
        link.table === null ? "" : link.table,
      ]);
      tr.dataset.ifindex = String(link.ifindex);
      if (!link.monitored) tr.className = "unmonitored";
      return tr;
    });
    byId("interfaces").tBodies[0].replaceChildren(...rows);
  }

  function renderRules(rules) {
    const rows = rules.map((r) =>
      row([
        r.priority,
        r.family,
        r.from || "all",
        r.to || "all",
        r.iif || "",
        r.oif || "",
        r.fwmark ? `0x${r.fwmark.toString(16)}` : "",
        r.action,
        r.table_name || r.table,
      ]),
    );
    byId("rules").tBodies[0].replaceChildren(...rows);
  }

  function renderTables(routes) {
    const tables = new Map();
    for (const route of routes) {
      if (SPECIAL_TABLES.has(route.table)) continue;
      if (!tables.has(route.table)) tables.set(route.table, []);
      tables.get(route.table).push(route);
    }
    const blocks = [];
    for (const [table, list] of [...tables.entries()].sort((a, b) => a[0] - b[0])) {
      const block = el("div", null, "table-block");
      block.appendChild(el("h4", `table ${table}`));
      const t = el("table");
      const head = row(["Destination", "Gateway", "Interface", "Protocol", "Metric"]);
      const thead = el("thead");
      thead.appendChild(head);
      t.appendChild(thead);
      const body = el("tbody");
      for (const r of list) {
        body.appendChild(
          row([r.dst, r.gateway || "", r.interface || "", r.protocol_name || r.protocol, r.metric]),
        );
      }
      t.appendChild(body);
      block.appendChild(t);
      blocks.push(block);
    }
    if (blocks.length === 0) blocks.push(el("p", "No policy-routing tables.", "hint"));
    byId("tables").replaceChildren(...blocks);
  }

  function describe(event) {
    const d = event.detail || {};
    switch (event.type) {
      case "address-added":
      case "address-removed":
        return d.address || "";
      case "route-added":
      case "route-removed":
        return `${d.dst}${d.gateway ? ` via ${d.gateway}` : ""} table ${d.table}`;
      case "rule-added":
      case "rule-removed":
        return `${d.priority}: from ${d.from || "all"} to ${d.to || "all"} lookup ${d.table}`;
      case "link":
        return `${(d.flags || []).join(",")} mtu ${d.mtu} ${d.operstate || ""}`;
      default:
        return Object.keys(d).length ? JSON.stringify(d) : "";
    }
  }

  function scriptText(script) {
    const name = script.script.split("/").pop();
    const outcome = script.timed_out
      ? "timed out"
      : script.exit_code === null
        ? script.error || "failed"
        : `exit ${script.exit_code}`;
    return `${script.directory}/${name}: ${outcome} (${Math.round(script.duration * 1000)} ms)`;
  }

  const eventRows = new Map(); // seq -> the row's scripts cell

  function addEvent(event) {
    if (eventRows.has(event.seq)) return;
    const scripts = lines(event.scripts.map(scriptText));
    const tr = row([
      event.seq,
      new Date(event.time).toLocaleTimeString(),
      event.type,
      event.link_name || "",
      describe(event),
      scripts,
    ]);
    tr.dataset.seq = String(event.seq);
    tr.dataset.type = event.type;
    tr.className = `event event-${event.type}`;
    tr.hidden = !shown(event.type);
    const body = byId("events").tBodies[0];
    body.insertBefore(tr, body.firstChild);
    eventRows.set(event.seq, scripts);
    while (body.rows.length > MAX_EVENTS) {
      const last = body.rows[body.rows.length - 1];
      eventRows.delete(Number(last.dataset.seq));
      last.remove();
    }
  }

  // The event types come from the API's own OpenAPI document (netevd.core.kinds, the one
  // vocabulary), never from a list kept here.
  async function loadTypes() {
    const doc = await (await fetch("/api/v1/openapi.json")).json();
    const params = doc.paths["/api/v1/events"].get.parameters;
    const types = params.find((p) => p.name === "type").schema.enum;
    eventTypes = types;
    const select = byId("event-type");
    for (const type of types) select.appendChild(el("option", type));
    select.addEventListener("change", () => {
      for (const tr of byId("events").tBodies[0].rows) tr.hidden = !shown(tr.dataset.type);
    });
  }

  function shown(type) {
    const wanted = byId("event-type").value;
    return !wanted || wanted === type;
  }

  function addScript(script) {
    const cell = eventRows.get(script.seq);
    if (cell) cell.appendChild(el("div", scriptText(script), script.exit_code === 0 ? "" : "bad"));
  }

  let refreshTimer = null;
  async function refresh() {
    refreshTimer = null;
    try {
      const [status, links, rules, routes, history] = await Promise.all([
        api("/api/v1/status"),
        api("/api/v1/interfaces"),
        api("/api/v1/rules"),
        api("/api/v1/routes"),
        api("/api/v1/history"),
      ]);
      renderStatus(status);
      renderInterfaces(links);
      renderRules(rules);
      renderTables(routes);
      window.NetevdPlots.render(history, eventTypes);
      showError("");
    } catch (err) {
      showError(`cannot reach netevd: ${err.message}`);
    }
  }

  function scheduleRefresh() {
    if (refreshTimer === null) refreshTimer = setTimeout(refresh, REFRESH_DELAY_MS);
  }

  function setStream(text, kind) {
    const pill = byId("stream");
    pill.textContent = `stream: ${text}`;
    pill.className = `pill pill-${kind}`;
  }

  function connect(since) {
    const url = since === null ? "/api/v1/events/stream" : `/api/v1/events/stream?since=${since}`;
    const source = new EventSource(url);
    source.onopen = () => {
      setStream("live", "ok");
      scheduleRefresh(); // whatever changed while we were away
    };
    source.onerror = () => setStream("reconnecting", "wait");
    source.addEventListener("event", (message) => {
      addEvent(JSON.parse(message.data));
      scheduleRefresh();
    });
    source.addEventListener("script", (message) => {
      addScript(JSON.parse(message.data));
      scheduleRefresh(); // its duration goes into the plot
    });
    source.addEventListener("overflow", () => setStream("fell behind, resuming", "wait"));
  }

  async function start() {
    try {
      await loadTypes();
    } catch (err) {
      showError(`cannot read the API description: ${err.message}`);
    }
    await refresh();
    let since = null;
    try {
      const events = await api(`/api/v1/events?limit=${INITIAL_EVENTS}`);
      for (const event of events) addEvent(event);
      if (events.length) since = events[events.length - 1].seq;
    } catch (err) {
      showError(`cannot read events: ${err.message}`);
    }
    connect(since);
    setInterval(scheduleRefresh, PLOT_REFRESH_MS);
  }

  start();
})();
