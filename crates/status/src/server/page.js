// The status page: fetches api/status and api/history, draws each app's charts as SVG, and
// refreshes itself. No library, no CDN: everything it needs is served by autoscaled.
// Each chart's <svg> carries data-points (the intervals drawn), which tests read.
"use strict";

const H = 220, L = 46, R = 10, T = 14, B = 24;
// The charts' width in SVG units, set to their width on screen so text stays at its CSS size.
let W = 640;
let last = null;
const COLORS = { rpm: "var(--p50)", flight: "var(--target)", p50: "var(--p50)", p95: "var(--p95)", actual: "var(--actual)", target: "var(--target)", baseline: "var(--baseline)", down: "var(--down)", up: "var(--up)" };
let refreshes = 0;
let timer = null;
// The charts' window: "24h" or "7d", as api/history takes it; kept in the address's #fragment.
let span = location.hash === "#7d" ? "7d" : "24h";

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function formatter(tz, options) {
  const base = Object.assign({ hourCycle: "h23" }, options);
  try {
    return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: tz }, base));
  } catch (e) {
    return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: "UTC" }, base));
  }
}

function hhmm(tz, t) {
  return formatter(tz, { hour: "2-digit", minute: "2-digit" }).format(new Date(t));
}

function dayTime(tz, t) {
  return formatter(tz, { weekday: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(t));
}

function seconds(ms) {
  if (ms == null) return "–";
  if (ms === 0) return "0";
  return ms >= 10000 ? (ms / 1000).toFixed(0) + " s" : ms >= 1000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms) + " ms";
}

function money(x) {
  return "$" + x.toFixed(2);
}

// A round upper bound for an axis, and its tick step.
function niceScale(max, ticks) {
  if (!(max > 0)) max = 1;
  const raw = max / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  return { top: Math.ceil(max / step) * step, step };
}

function frame(from, to, top) {
  return {
    x: (t) => L + ((t - from) / (to - from)) * (W - L - R),
    y: (v) => T + (1 - v / top) * (H - T - B),
  };
}

// Paths through the points, broken where intervals are missing.
function polyline(points, gap, step) {
  let d = "", prev = null;
  const dots = [];
  points.forEach((p, i) => {
    const joined = prev && p.t - prev.t <= gap;
    if (!joined) {
      d += `M${p.x.toFixed(1)},${p.y.toFixed(1)}`;
      const next = points[i + 1];
      if (!next || next.t - p.t > gap) dots.push(p);
    } else {
      d += step ? `H${p.x.toFixed(1)}V${p.y.toFixed(1)}` : `L${p.x.toFixed(1)},${p.y.toFixed(1)}`;
    }
    prev = p;
  });
  return { d, dots };
}

function series(buckets, field, f, gap, step, color, dash, width) {
  const pts = buckets.filter((b) => b[field] != null).map((b) => ({ t: b.t, x: f.x(b.t), y: f.y(b[field]) }));
  const { d, dots } = polyline(pts, gap, step);
  let out = d ? `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width || 2}"${dash ? ` stroke-dasharray="${dash}"` : ""} stroke-linejoin="round"/>` : "";
  for (const p of dots) out += `<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="2" fill="${color}"/>`;
  return out;
}

function axes(from, to, tz, f, scale, label) {
  let out = "";
  for (let v = 0; v <= scale.top + 1e-9; v += scale.step) {
    const y = f.y(v).toFixed(1);
    out += `<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="var(--line)"/>`;
    out += `<text x="${L - 4}" y="${y}" dy="4" text-anchor="end">${esc(label(v))}</text>`;
  }
  const hour = 3600e3, week = to - from > 2 * 24 * hour;
  for (let t = Math.ceil(from / hour) * hour; t <= to; t += hour) {
    const text = hhmm(tz, t);
    // A day's ticks every 3 hours (6 on a phone); a week's at each midnight, named by weekday.
    if (week ? text !== "00:00" : Number(text.slice(0, 2)) % (W < 480 ? 6 : 3) !== 0) continue;
    const label = week ? formatter(tz, { weekday: "short" }).format(new Date(t)) : text;
    const x = f.x(t).toFixed(1);
    out += `<line x1="${x}" x2="${x}" y1="${T}" y2="${H - B}" stroke="var(--line)"/>`;
    out += `<text x="${x}" y="${H - 6}" text-anchor="middle">${esc(label)}</text>`;
  }
  return out;
}

// Red bands where probes were down, and a line per outage / recovery alert.
function outages(history, app, f) {
  const width = history.bucket_seconds * 1000;
  let out = "";
  for (const b of app.buckets) {
    if (b.down > 0) {
      const x = f.x(b.t), w = Math.max(f.x(b.t + width) - x, 2);
      out += `<rect class="outage" x="${x.toFixed(1)}" y="${T}" width="${w.toFixed(1)}" height="${H - T - B}" fill="var(--down)" opacity="0.18"><title>${b.down} of ${b.probes} probes down</title></rect>`;
    }
  }
  for (const m of app.markers.filter((m) => m.kind !== "scale")) {
    const x = f.x(m.t).toFixed(1), color = m.kind === "outage" ? COLORS.down : COLORS.up;
    out += `<line class="marker ${m.kind}" x1="${x}" x2="${x}" y1="${T}" y2="${H - B}" stroke="${color}" stroke-width="1.5"><title>${esc(m.kind + ": " + m.reason)}</title></line>`;
  }
  return out;
}

function svg(kind, points, body) {
  return `<svg class="chart" data-chart="${kind}" data-points="${points}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${kind} chart">${body}</svg>`;
}

function latencyChart(history, app, from, to) {
  const measured = app.buckets.filter((b) => b.p50 != null);
  const scale = niceScale(Math.max(0, ...measured.map((b) => b.p95 || b.p50)) * 1.1, 4);
  const f = frame(from, to, scale.top);
  const gap = history.bucket_seconds * 1000 * 1.5;
  const body = axes(from, to, app.timezone, f, scale, seconds) + outages(history, app, f) +
    series(measured, "p95", f, gap, false, COLORS.p95) + series(measured, "p50", f, gap, false, COLORS.p50);
  return svg("latency", measured.length, body);
}

function dynoChart(history, app, from, to) {
  const known = app.buckets;
  const top = Math.max(app.max, ...known.map((b) => Math.max(b.actual || 0, b.target, b.baseline)));
  const scale = niceScale(top + 1, Math.min(top + 1, 5));
  scale.step = Math.max(1, Math.round(scale.step));
  const f = frame(from, to, scale.top);
  const gap = history.bucket_seconds * 1000 * 1.5;
  let body = axes(from, to, app.timezone, f, scale, (v) => String(v)) + outages(history, app, f) +
    series(known, "baseline", f, gap, true, COLORS.baseline, "6 4") +
    // Wide and under the actual line, so the target shows as a halo where the two agree.
    series(known, "target", f, gap, true, COLORS.target, "3 3", 5) +
    series(known, "actual", f, gap, true, COLORS.actual);
  for (const m of app.markers.filter((m) => m.kind === "scale")) {
    const x = f.x(m.t), up = m.to > m.from, y = T + 1;
    const shape = up ? `${x - 5},${y + 8} ${x + 5},${y + 8} ${x},${y}` : `${x - 5},${y} ${x + 5},${y} ${x},${y + 8}`;
    body += `<polygon class="marker scale" points="${shape}" fill="${up ? COLORS.p95 : COLORS.p50}"><title>${esc(`${hhmm(app.timezone, m.t)} ${m.from} → ${m.to}: ${m.reason}`)}</title></polygon>`;
  }
  return svg("dynos", known.filter((b) => b.actual != null).length, body);
}

// Requests a minute or in flight from the app's log drain: drawn only where the drain had data.
function trafficChart(history, app, from, to, field, color, kind) {
  const known = app.buckets.filter((b) => b[field] != null);
  const scale = niceScale(Math.max(0, ...known.map((b) => b[field])) * 1.1, 4);
  const f = frame(from, to, scale.top);
  const gap = history.bucket_seconds * 1000 * 1.5;
  const label = (v) => v >= 10000 ? (v / 1000).toFixed(0) + "k" : String(Math.round(v * 10) / 10);
  const body = axes(from, to, app.timezone, f, scale, label) + series(known, field, f, gap, false, color);
  return svg(kind, known.length, body);
}

function trafficCharts(history, app, from, to) {
  if (!app.buckets.some((b) => b.requests_per_minute != null)) return "";
  return `<figure><figcaption>Requests a minute (log drain)</figcaption>${trafficChart(history, app, from, to, "requests_per_minute", COLORS.rpm, "requests")}</figure>
        <figure><figcaption>Requests in flight (log drain)</figcaption>${trafficChart(history, app, from, to, "in_flight", COLORS.flight, "in-flight")}</figure>`;
}

// A worker's job queue, beside its dynos: jobs ready and the oldest one's age, the most of each
// interval (a queue that backed up for a minute shows); the latency chart marks the target.
function queueCharts(history, app, from, to) {
  if (!app.buckets.some((b) => b.queue_ready != null)) return "";
  const latency = app.buckets.some((b) => b.queue_latency != null)
    ? `<figure><figcaption>Oldest job's age, seconds (job queue)</figcaption>${queueChart(history, app, from, to, "queue_latency", COLORS.p95, "queue-latency", 0.001)}</figure>`
    : "";
  return `<figure><figcaption>Jobs ready (job queue)</figcaption>${queueChart(history, app, from, to, "queue_ready", COLORS.rpm, "queue-ready", 1)}</figure>${latency}`;
}

function queueChart(history, app, from, to, field, color, kind, unit) {
  const known = app.buckets.filter((b) => b[field] != null).map((b) => Object.assign({}, b, { v: b[field] * unit }));
  const scale = niceScale(Math.max(1, ...known.map((b) => b.v)) * 1.1, 4);
  const f = frame(from, to, scale.top);
  const gap = history.bucket_seconds * 1000 * 1.5;
  const label = (v) => v >= 10000 ? (v / 1000).toFixed(0) + "k" : String(Math.round(v * 10) / 10);
  return svg(kind, known.length, axes(from, to, app.timezone, f, scale, label) + series(known, "v", f, gap, false, color));
}

function legend(items) {
  return `<div class="legend">${items.map(([color, name, dash]) => `<span><i style="border-top-color:${color};${dash ? "border-top-style:dashed" : ""}"></i>${esc(name)}</span>`).join("")}</div>`;
}

// A duration in milliseconds, as seconds or minutes.
function seconds(ms) {
  return ms >= 120000 ? `${Math.round(ms / 60000)} min` : `${Math.round(ms / 100) / 10} s`;
}

function pills(app) {
  const out = [
    `<span class="pill">actual <b>${app.actual == null ? "?" : app.actual}</b></span>`,
    `<span class="pill">target <b>${app.target}</b></span>`,
    `<span class="pill">baseline <b>${app.baseline}</b></span>`,
    `<span class="pill">range <b>${app.min}–${app.max}</b></span>`,
  ];
  if (app.outage_since) out.push(`<span class="pill bad">down since ${esc(hhmm(app.timezone, Date.parse(app.outage_since)))}</span>`);
  else if (app.maintenance) out.push(`<span class="pill">maintenance mode</span>`);
  else out.push(`<span class="pill good">up</span>`);
  if (app.holder) out.push(`<span class="pill">${app.elsewhere ? "held by" : "decided here,"} ${esc(app.holder)}</span>`);
  const q = app.queue;
  if (q) {
    const oldest = q.latency == null ? "oldest unknown" : `oldest ${seconds(q.latency)}`;
    const busy = q.busy == null ? "" : `, ${q.busy} busy`;
    out.push(`<span class="pill queue">queue ${esc(hhmm(app.timezone, Date.parse(q.at)))}: <b>${q.ready}</b> ready, ${oldest}${busy}</span>`);
  }
  const p = app.last_probe;
  if (p) out.push(`<span class="pill${p.class === "down" ? " bad" : ""}">last probe ${esc(hhmm(app.timezone, Date.parse(p.at)))}: ${esc(p.class)}, ${esc(p.detail)}</span>`);
  return `<div class="pills">${out.join("")}</div>`;
}

function facts(app) {
  const tz = app.timezone;
  const changes = app.next_changes.length
    ? app.next_changes.map((c) => `<li>${esc(dayTime(tz, Date.parse(c.at)))} → <b>${c.quantity}</b></li>`).join("")
    : `<li class="muted">none in the next 7 days</li>`;
  const c = app.cost_today;
  const saved = c.max_cost > 0 ? Math.round((100 * (c.max_cost - c.cost)) / c.max_cost) : 0;
  const decisions = app.decisions.slice(-8).reverse();
  const rows = decisions.length
    ? decisions.map((d) => `<tr><td class="when">${esc(hhmm(tz, Date.parse(d.at)))}</td><td class="move">${d.from} → ${d.to}</td><td>${esc(d.reason)}</td></tr>`).join("")
    : `<tr><td class="muted">no change of target yet</td></tr>`;
  const overrides = app.overrides.length
    ? app.overrides.map((o) => {
        const sets = o.kind === "pause"
          ? "<b>paused</b>: no scale call"
          : [["quantity", o.quantity], ["min", o.min], ["max", o.max]].filter(([, v]) => v !== null).map(([k, v]) => `${k} <b>${v}</b>`).join(", ");
        const until = o.until ? dayTime(tz, Date.parse(o.until)) : "resumed";
        const when = o.active ? `until ${esc(until)}` : `${esc(dayTime(tz, Date.parse(o.from)))} to ${esc(until)}`;
        const why = o.reason ? `: ${esc(o.reason)}` : "";
        return `<li class="override${o.active ? " active" : ""}" data-id="${o.id}" data-kind="${o.kind}">#${o.id} ${sets}, ${when} <span class="muted">(${o.active ? "running" : "coming"}; by ${esc(o.by)}${why})</span></li>`;
      }).join("")
    : `<li class="muted">none</li>`;
  return `<div class="facts">
    <div><h3>Overrides and pauses</h3><ul>${overrides}</ul></div>
    <div><h3>Next schedule changes</h3><ul>${changes}</ul></div>
    <div><h3>Cost today (estimate)</h3><ul>
      <li><b>${money(c.cost)}</b> <span class="muted">(${c.dyno_hours.toFixed(1)} dyno-hours)</span></li>
      <li>at max all day: ${money(c.max_cost)} <span class="muted">(${c.max_dyno_hours.toFixed(0)} dyno-hours)</span></li>
      <li>saved: <b>${saved}%</b></li></ul></div>
    <div><h3>Recent decisions</h3><table>${rows}</table></div>
  </div>`;
}

// Whether the app is probed: a worker scaled on its queue alone has no response time to chart.
function probed(app, chart) {
  return app.last_probe != null || chart.buckets.some((b) => b.probes > 0);
}

function render(status, history) {
  last = [status, history];
  const now = Date.parse(history.now), from = Date.parse(history.from);
  const main = document.getElementById("apps");
  // Two charts side by side from 900 px (see the CSS); less main's and the card's padding, and the gap.
  const inner = main.clientWidth - 2 * 12 - 2 * 17;
  const twoColumns = window.matchMedia("(min-width: 900px)").matches;
  W = Math.round(Math.max(300, Math.min(640, twoColumns ? (inner - 12) / 2 : inner)));
  const focused = document.activeElement;
  main.innerHTML = status.apps.map((app, i) => {
    const chart = history.apps[i];
    return `<section class="app" data-app="${esc(app.app)}">
      <h2>${esc(app.app)} <small>${esc(app.process)} · ${esc(app.timezone)}</small></h2>
      ${pills(app)}
      <div class="charts">
        ${probed(app, chart) ? `<figure><figcaption>Response time</figcaption>${latencyChart(history, chart, from, now)}
          ${legend([[COLORS.p50, "p50"], [COLORS.p95, "p95"], [COLORS.down, "down"]])}</figure>` : ""}
        <figure><figcaption>Dynos</figcaption>${dynoChart(history, chart, from, now)}
          ${legend([[COLORS.actual, "actual"], [COLORS.target, "target", true], [COLORS.baseline, "baseline", true], [COLORS.p95, "▲▼ scale"]])}</figure>
        ${trafficCharts(history, chart, from, now)}
        ${queueCharts(history, chart, from, now)}
      </div>
      ${facts(app)}
    </section>`;
  }).join("");
  attachEdits(status, focused);
  const tz = status.apps.length ? status.apps[0].timezone : "UTC";
  document.getElementById("clock").textContent =
    `${dayTime(tz, Date.parse(status.now))} ${tz}${status.simulated ? " (simulated time)" : ""}`;
}

async function fetchJson(path) {
  const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function refresh() {
  const state = document.getElementById("state");
  let wait = 15;
  try {
    const [status, history] = await Promise.all([fetchJson("api/status"), fetchJson(`api/history?span=${span}`)]);
    wait = status.refresh_seconds || wait;
    render(status, history);
    refreshes += 1;
    document.body.dataset.refreshes = String(refreshes);
    state.className = "";
    state.textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    state.className = "error";
    state.textContent = `cannot reach autoscaled (${e.message}); retrying`;
  }
  timer = setTimeout(refresh, wait * 1000);
}

// The window buttons: the chosen one is pressed; a click fetches the other window at once.
function showSpan() {
  for (const button of document.querySelectorAll("#span button")) {
    button.setAttribute("aria-pressed", String(button.dataset.span === span));
  }
}

document.getElementById("span").addEventListener("click", (e) => {
  const chosen = e.target.dataset && e.target.dataset.span;
  if (!chosen || chosen === span) return;
  span = chosen;
  window.history.replaceState(null, "", chosen === "7d" ? "#7d" : "#");
  showSpan();
  clearTimeout(timer);
  refresh();
});

window.addEventListener("resize", () => last && render(...last));
showSpan();
refresh();

// ---- Overrides and pauses: the form on each card and the buttons that end one ----------------
// Shown when api/status says the page may change them (a password is set); they post JSON to
// api/overrides and api/pauses and send DELETE to api/overrides/{id} and api/pauses/{id}, whose
// answers ({"problems": [...]}, in the CLI's words) are shown under the form. The cards are redrawn
// at every refresh: each card's form is built once and moved into the new card, so what was typed,
// and the focus, survive a refresh.
const editForms = new Map();

function editForm(app) {
  const form = document.createElement("details");
  form.className = "edit";
  form.innerHTML = `<summary>Add an override or a pause</summary>
    <form data-edit-form>
      <label>kind <select name="kind"><option value="override">override</option><option value="pause">pause</option></select></label>
      <label class="counts">quantity <input name="quantity" type="number" min="0" step="1" inputmode="numeric"></label>
      <label class="counts">min <input name="min" type="number" min="0" step="1" inputmode="numeric"></label>
      <label class="counts">max <input name="max" type="number" min="0" step="1" inputmode="numeric"></label>
      <label>for <input name="for" placeholder="3h" size="6"></label>
      <label>or until <input name="until" type="datetime-local"></label>
      <label class="wide">reason <input name="reason" placeholder="why"></label>
      <label>by <input name="by" placeholder="page" size="10"></label>
      <button type="submit">Add</button>
      <ul class="problems" aria-live="polite"></ul>
    </form>`;
  const f = form.querySelector("form");
  const showCounts = () => {
    for (const label of f.querySelectorAll(".counts")) label.hidden = f.kind.value === "pause";
  };
  f.kind.addEventListener("change", showCounts);
  showCounts();
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { app: app.app, process: app.process };
    for (const name of ["for", "reason", "by"]) if (f[name].value.trim()) body[name] = f[name].value.trim();
    // The browser's local time, as the field shows it, sent as an instant.
    if (f.until.value) body.until = new Date(f.until.value).toISOString();
    if (f.kind.value === "override") {
      for (const name of ["quantity", "min", "max"]) if (f[name].value !== "") body[name] = Number(f[name].value);
    }
    const done = await sendEdit("POST", f.kind.value === "pause" ? "api/pauses" : "api/overrides", body, f);
    if (done) {
      for (const name of ["quantity", "min", "max", "for", "until", "reason"]) f[name].value = "";
    }
  });
  return form;
}

// Sends one change; shows its problems under `form` (or the card's), and refreshes on success.
async function sendEdit(method, path, body, form) {
  const list = form.querySelector(".problems");
  list.innerHTML = "";
  let problems;
  try {
    const init = { method, credentials: "same-origin", headers: { "Content-Type": "application/json" } };
    if (body) init.body = JSON.stringify(body);
    const response = await fetch(path, init);
    if (response.ok) {
      clearTimeout(timer);
      refresh();
      return true;
    }
    const answer = await response.json().catch(() => ({}));
    problems = answer.problems || [`HTTP ${response.status}`];
  } catch (e) {
    problems = [`cannot reach autoscaled (${e.message})`];
  }
  list.innerHTML = problems.map((p) => `<li>${esc(p)}</li>`).join("");
  return false;
}

function attachEdits(status, focused) {
  const cards = document.querySelectorAll("#apps section.app");
  status.apps.forEach((app, i) => {
    const card = cards[i];
    if (!card) return;
    if (!status.edits) {
      card.insertAdjacentHTML("beforeend", `<p class="edit muted">Set a page password ([http] password) to add and end overrides and pauses here.</p>`);
      return;
    }
    const key = `${app.app}\u0000${app.process}`;
    if (!editForms.has(key)) editForms.set(key, editForm(app));
    const form = editForms.get(key);
    card.appendChild(form);
    for (const item of card.querySelectorAll("li.override[data-id]")) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "end";
      button.textContent = item.dataset.kind === "pause" ? "Resume" : "End";
      button.addEventListener("click", () => {
        const path = item.dataset.kind === "pause" ? "api/pauses/" : "api/overrides/";
        sendEdit("DELETE", path + item.dataset.id, null, form);
      });
      item.appendChild(button);
    }
  });
  // A field being typed in keeps the focus and the caret across the redraw.
  if (focused && focused !== document.body && focused.isConnected && focused.closest("details.edit")) {
    const at = [focused.selectionStart, focused.selectionEnd];
    focused.focus();
    try { focused.setSelectionRange(at[0], at[1]); } catch (e) { /* not a text field */ }
  }
}
