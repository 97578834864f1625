// The egate officer console: draws the current view from the JSON API and keeps it live
// with server-sent events. Everything from a lane is set as text (never as HTML).
"use strict";
const body = document.body;
const VIEW = body.dataset.view || "hall";
const LANE = body.dataset.lane || "";
const main = document.getElementById("view");
let csrf = "";
let role = "";
// Lane-to-browser latency of every event (ms), read by the browser tests.
window.egateLatency = [];
window.egateEvents = 0;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (opts.method && opts.method !== "GET") {
    opts.headers["X-CSRF-Token"] = csrf;
    opts.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, opts);
  if (response.status === 401) { location.href = "/login"; throw new Error("logged out"); }
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function kv(pairs) {
  const dl = el("dl", { class: "kv" });
  for (const [k, v] of pairs) dl.append(el("dt", { text: k }), el("dd", { text: v == null ? "-" : String(v) }));
  return dl;
}

// Every time with its date (ISO order, local time): a card may be from yesterday.
function when(t) {
  if (!t) return "-";
  const d = new Date(t * 1000), p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
function num(v, d) { return typeof v === "number" ? v.toFixed(d) : "-"; }

// -- views --------------------------------------------------------------------------------------
async function drawHall() {
  const data = await api("/api/hall");
  const tiles = el("div", { class: "tiles", id: "tiles" });
  for (const lane of data.lanes) {
    const cls = !lane.online ? "offline" : lane.health === "ok" ? "ok" : "fault";
    const lost = `LOST (no report since ${when(lane.last_seen)})`;
    const reasons = Object.entries(lane.referrals_today).map(([k, v]) => `${k} ${v}`).join(", ");
    tiles.append(el("section", { class: `tile ${cls}`, "data-lane": lane.lane },
      el("h3", {}, el("a", { href: `/lanes/${encodeURIComponent(lane.lane)}`, text: lane.lane })),
      kv([
        ["state", lane.online ? lane.state : lost],
        ["last outcome", lane.last_outcome || "-"],
        ["doors", lane.doors],
        ["health", lane.health + (lane.last_error ? ` (${lane.last_error})` : "")],
        ["devices", Object.entries(lane.devices).map(([d, v]) => v === "ok" ? d : `${d} FAULT`).join(", ") || "-"],
        ["in service", lane.in_service ? "yes" : "closed"],
        ["travellers/hour", lane.travellers_per_hour],
        ["referrals today", reasons || "none"],
      ])));
  }
  if (!data.lanes.length) tiles.append(el("p", { class: "muted", text: data.link.ok ? "No lane has reported yet." : `No lane can report: ${data.link.detail}` }));
  const note = data.rejected_messages ? el("p", { class: "error", text: `${data.rejected_messages} malformed lane messages refused` }) : "";
  main.replaceChildren(el("h2", { text: "Hall" }), tiles, note);
}

async function drawLane() {
  const lane = await api(`/api/lanes/${encodeURIComponent(LANE)}`);
  const camera = el("div", { class: "camera" });
  if (role !== "auditor" && !lane.preview_seq) camera.append(el("p", { class: "muted nocamera", text: "no camera picture yet" }));
  else if (role !== "auditor") {
    const img = el("img", { id: "camera", alt: "live camera", src: `/api/lanes/${encodeURIComponent(LANE)}/preview.jpg?n=${lane.preview_seq}` });
    camera.append(img);
    const live = lane.preview_face || {};
    const box = live.face_box || (lane.capture && lane.capture.face_box);
    if (box) {
      const frame = el("div", { class: "box", id: "facebox" });
      frame.style.left = `${box[0]}px`; frame.style.top = `${box[1]}px`;
      frame.style.width = `${box[2] - box[0]}px`; frame.style.height = `${box[3] - box[1]}px`;
      camera.append(frame);
    }
  }
  const stages = el("ol", { class: "stages", id: "stages" });
  for (const s of lane.stages) stages.append(el("li", { text: s }));
  const controls = role === "auditor" ? null : serviceControls(lane.online);
  const lost = lane.online ? null : el("p", { class: "lost", id: "lost", text: `Lane lost: no report since ${when(lane.last_seen)}. What is shown is its last known state; nothing can be sent to it.` });
  main.replaceChildren(
    el("h2", { text: `Lane ${lane.lane}` }), lost || "",
    el("div", { class: "photos" }, camera, el("div", {},
      kv([["state", lane.state], ["transaction", lane.current_tid], ["doors", lane.doors],
          ["live face quality", num((lane.preview_face || {}).quality, 2)],
          ["capture", lane.capture.status], ["best shot quality", num(lane.capture.quality, 2)],
          ["liveness", num(lane.capture.liveness, 2)], ["health", lane.health],
          ["in service", lane.in_service ? "yes" : "closed"]]),
      el("h3", { text: "Current transaction" }), stages, controls)));
}

// Open or close a lane with a reason code (and an optional note): no prompt(). Made once and
// kept across redraws, so a redraw never resets what the officer is choosing.
const REASON_CODES = ["cleaning", "maintenance", "device fault", "staffing", "security incident", "end of shift", "other"];
let laneControls = null;
function serviceControls(online) {
  if (!laneControls) {
    const code = el("select", { id: "service-code" }, ...REASON_CODES.map((c) => el("option", { value: c, text: c })));
    const note = el("input", { id: "service-note", placeholder: "note (optional)", size: "24" });
    const said = el("span", { id: "service-status", class: "status" });
    const service = (state) => async () => {
      const reason = note.value.trim() ? `${code.value}: ${note.value.trim()}` : code.value;
      try {
        await api(`/api/lanes/${encodeURIComponent(LANE)}/service`, { method: "POST", body: JSON.stringify({ service: state, reason }) });
        said.textContent = `sent: ${state} (${reason})`;
      } catch (e) { said.textContent = e.message; said.classList.add("error"); }
    };
    laneControls = el("div", { class: "service" },
      el("p", {}, el("label", { text: "reason " }, code), " ", note), el("p", {},
        el("button", { id: "close-lane", text: "Close lane", onclick: service("closed") }), " ",
        el("button", { id: "open-lane", text: "Open lane", onclick: service("open") }), " ", said));
  }
  for (const button of laneControls.querySelectorAll("button")) button.disabled = !online;
  return laneControls;
}

// How long a card has waited, on every card, every second.
function age(t) {
  const s = Math.max(0, Math.floor(Date.now() / 1000 - t));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`;
}
setInterval(() => { for (const n of document.querySelectorAll("[data-since]")) n.textContent = `waiting ${age(Number(n.dataset.since))}`; }, 1000);

// The score is a distance: lower is a closer match; at most the threshold is a match.
function strength(c) {
  if (typeof c.score !== "number" || typeof c.threshold !== "number") return el("p", { class: "muted", text: "no face comparison" });
  const margin = c.threshold - c.score, range = Math.max(Math.abs(margin) * 1.25, 0.1 * Math.max(1, Math.abs(c.threshold)));
  const pos = Math.min(100, Math.max(0, 50 + 50 * margin / range));
  const bar = el("div", { class: `strength ${margin >= 0 ? "match" : "nomatch"}` });
  const fill = el("span", { class: "fill" }); fill.style.width = `${pos}%`;
  bar.append(fill, el("span", { class: "mark", title: "threshold" }));
  return el("div", { class: "score" }, bar, el("p", { class: "muted", text:
    `match strength: distance ${num(c.score, 3)}, a match at or below ${num(c.threshold, 3)} (the mark): ${margin >= 0 ? "MATCH" : "NO MATCH"}` }));
}

function documentData(d) {
  if (!d || !Object.keys(d).length) return null;
  const expired = d.expiry && new Date(d.expiry) < new Date();
  return kv([["document", `${d.type || "-"} of ${d.issuing_state || "-"}, number ${d.number || "-"}`], ["name", d.name],
    ["nationality", d.nationality], ["expiry", d.expiry ? d.expiry + (expired ? " (EXPIRED)" : "") : "-"],
    // the page-chip checks, when the lane read the data page (a typed MRZ has none)
    ["page MRZ vs chip (DG1)", d.page_mrz || "not read from a page"],
    ["page portrait vs chip (DG2)", d.page_portrait || "not checked"]]);
}

// Why liveness came out as it did: the passive verdict, each cue, the challenge (if asked).
function livenessFacts(e) {
  if (!e || typeof e.score !== "number") return null;
  const peak = typeof e.challenge_peak === "number" ? ` (${e.challenge_peak.toFixed(1)})` : "";
  const asked = e.challenge ? `${e.challenge}: ${e.challenge_result || "no answer"}${peak}` : "not asked";
  const cues = Object.entries(e.cues || {}).map(([k, v]) => `${k} ${num(v, 3)}`).join(", ");
  return el("div", { class: "liveness" }, kv([["liveness verdict", e.verdict || "-"], ["challenge", asked], ["cues", cues || "-"]]));
}

async function drawReferrals() {
  const data = await api("/api/referrals");
  const list = el("div", { id: "referrals" });
  // Priority first (a held traveller, a mismatch ...), then the oldest; those gone last.
  data.referrals.sort((a, b) => (a.left - b.left) || (a.priority - b.priority) || (a.at - b.at));
  for (const r of data.referrals) {
    const reason = el("input", { class: "reason", placeholder: "reason (required)", size: "40" });
    const claim = r.claim ? `${r.claim.officer} decided ${r.claim.decision} at ${when(r.claim.at)}` : "";
    const status = el("span", { class: "status", text: r.refused || (r.pending ? `sent: ${claim}; waiting for the lane` : claim) });
    // The lane's rules: no exit for a traveller who has left; some outcomes need a supervisor.
    const mayAccept = !r.left && r.accept_roles.includes(role);
    const off = r.lane_online && !r.pending ? {} : { disabled: "" };
    const acceptNote = r.left ? "the traveller has left the lane: no door opens for them"
      : (mayAccept ? "" : `accept: ${r.accept_roles.join(" or ") || "nobody"} only`);
    const decide = (decision) => async () => {
      if (!reason.value.trim()) { status.textContent = "a reason is required"; return; }
      try {
        await api(`/api/referrals/${r.id}/decision`, { method: "POST", body: JSON.stringify({ decision, reason: reason.value }) });
        status.textContent = `sent: ${decision}; waiting for the lane`;
      } catch (e) { status.textContent = e.message; status.classList.add("error"); }
    };
    const photos = role === "auditor" ? el("p", { class: "muted", text: "photos: officers only" }) : el("div", { class: "photos" },
      el("figure", {}, r.has_chip_photo ? el("img", { src: `/api/referrals/${r.id}/chip.jpg`, alt: "chip photo" }) : el("p", { text: "no chip photo" }), el("figcaption", { text: "chip photo (DG2)" })),
      el("figure", {}, r.has_best_shot ? el("img", { src: `/api/referrals/${r.id}/best.jpg`, alt: "best shot" }) : el("p", { text: "no live shot" }), el("figcaption", { text: "best live shot" })));
    const c = r.checks;
    const lost = r.lane_online ? null : el("p", { class: "lost", text: `${r.lane} is lost: nothing can be sent to it now` });
    list.append(el("section", { class: `card referral${r.lane_online ? "" : " disabled"}`, "data-id": r.id, "data-lane": r.lane, "data-priority": String(r.priority), "data-at": String(r.at) },
      el("h3", { text: `${r.lane}: ${r.decision}` }), lost,
      el("p", {}, el("span", { class: "age", "data-since": String(r.at), text: `waiting ${age(r.at)}` }), ` since ${when(r.at)} - ${r.reason}`),
      el("div", { class: "facts" }, photos, el("div", {},
        documentData(r.document),
        kv([["passive auth (PA)", c.passive_auth], ["active auth (AA)", c.active_auth], ["chip auth (CA)", c.chip_auth],
            ["liveness", num(c.liveness, 2)], ["quality", num(c.quality, 2)]]),
        livenessFacts(c.liveness_evidence), strength(c))),
      role === "auditor" ? null : el("p", {}, reason, " ",
        mayAccept ? el("button", Object.assign({ class: "accept", text: "Accept (open exit)", onclick: decide("accept") }, off)) : el("span", { class: "muted left", text: acceptNote }), " ",
        el("button", Object.assign({ class: "refuse", text: "Refuse (walk back)", onclick: decide("refuse") }, off)), " ", status)));
  }
  if (!data.referrals.length) list.append(el("p", { class: "muted", text: "No open referral." }));
  main.replaceChildren(el("h2", { text: "Referrals" }), list);
}

async function drawAlarms() {
  const data = await api("/api/alarms");
  const table = el("table", { id: "alarms" }, el("tr", {}, ...["time", "lane", "alarm", "acknowledged", ""].map((t) => el("th", { text: t }))));
  for (const a of data.alarms) {
    const reason = el("input", { placeholder: "note", size: "20" });
    const ack = a.acknowledged_by || role === "auditor" ? null : el("button", { text: "Acknowledge", onclick: async () => {
      await api(`/api/alarms/${a.id}/ack`, { method: "POST", body: JSON.stringify({ reason: reason.value || "acknowledged" }) });
      refresh();
    } });
    table.append(el("tr", { "data-id": a.id }, el("td", { text: when(a.at) }), el("td", { text: a.lane }), el("td", { text: a.detail }),
      el("td", { text: a.acknowledged_by || "-" }), el("td", {}, ack ? reason : null, ack)));
  }
  main.replaceChildren(el("h2", { text: "Alarms" }), table);
}

let auditText = "";
async function drawAudit() {
  if (role === "officer") { main.replaceChildren(el("h2", { text: "Audit" }), el("p", { text: "The audit log is for auditors and supervisors." })); return; }
  const data = await api(`/api/audit?text=${encodeURIComponent(auditText)}&limit=200`);
  const search = el("input", { id: "audit-text", value: auditText, placeholder: "transaction, outcome or officer" });
  const form = el("form", { onsubmit: (e) => { e.preventDefault(); auditText = search.value; refresh(); } }, search, " ", el("button", { text: "Search" }));
  const exports = el("p", {}, ...data.lanes.flatMap((lane) => [
    el("a", { href: `/api/audit/${encodeURIComponent(lane)}/export?format=csv`, text: `${lane} CSV` }), " ",
    el("a", { href: `/api/audit/${encodeURIComponent(lane)}/export?format=json`, text: `${lane} JSON` }), " "]));
  const table = el("table", { id: "audit" }, el("tr", {}, ...["time", "lane", "kind", "transaction", "outcome", "score", "PA", "AA", "CA", "detail"].map((t) => el("th", { text: t }))));
  for (const r of data.rows) {
    table.append(el("tr", {}, ...[when(r.finished_at), r.lane, r.kind, (r.transaction_id || "").slice(0, 8), r.outcome, num(r.score, 3), r.passive_auth, r.active_auth, r.chip_auth, r.detail].map((t) => el("td", { text: t == null ? "-" : String(t) }))));
  }
  const report = el("p", {}, el("a", { id: "shift-report", href: "/api/report?hours=8&format=csv", text: "Shift report (last 8 hours, CSV)" }));
  main.replaceChildren(el("h2", { text: "Audit" }), form, exports, report, table);
}

async function drawMetrics() {
  const data = await api("/api/metrics");
  const n = Date.now();
  const plots = el("div", { class: "plots" }, ...["throughput", "outcomes", "latency"].map((p) => el("img", { src: `/plots/${p}.svg?t=${n}`, alt: p })));
  const table = el("table", { id: "latency" }, el("tr", {}, ...["stage", "median ms", "p95 ms", "n"].map((t) => el("th", { text: t }))));
  for (const [stage, v] of Object.entries(data.latency)) table.append(el("tr", {}, ...[stage, num(v.median_ms, 0), num(v.p95_ms, 0), v.count].map((t) => el("td", { text: String(t) }))));
  main.replaceChildren(el("h2", { text: "Metrics" }), plots, table);
}

const DRAW = { hall: drawHall, lanes: drawLane, referrals: drawReferrals, alarms: drawAlarms, audit: drawAudit, metrics: drawMetrics };
let pending = null;
function refresh() {
  if (pending) return;
  pending = setTimeout(async () => {
    pending = null;
    const active = document.activeElement;
    if (active && active.tagName === "INPUT" && active.type !== "checkbox" && active.value) return; // do not wipe what an officer types
    try { await (DRAW[VIEW] || drawHall)(); } catch (e) { console.warn(e); }
  }, 150);
}

const STATUS = ["lost", "back", "claim", "timeout"];
const REDRAW_ON = { hall: null, lanes: null, referrals: ["referral", "officer", "door", "transaction", ...STATUS], alarms: ["alarm", "officer"], audit: ["officer", "transaction"], metrics: ["transaction"] };
function listen() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/events");
  source.onopen = () => { live.textContent = "connecting"; live.className = "off"; };
  source.onerror = () => {
    live.textContent = "offline"; live.className = "off";
    // A restarted console forgets its sessions: back to the login page (api() does it on 401).
    api("/api/session").catch(() => null);
  };
  source.onmessage = (event) => {
    const update = JSON.parse(event.data);
    if (update.kind === "link") {  // the console's own link to the lanes (the broker)
      live.textContent = update.ok ? "live" : `error: ${update.detail}`;
      live.title = update.detail;
      live.className = update.ok ? "on" : "off";
      if (VIEW === "hall") refresh();
      return;
    }
    window.egateLatency.push(Date.now() - update.sent * 1000);
    window.egateEvents += 1;
    if (VIEW === "lanes" && update.lane !== LANE) return;
    const kinds = REDRAW_ON[VIEW];
    if (update.kind === "health" && VIEW !== "hall" && VIEW !== "lanes") return;
    if (["referral", "officer", "claim"].includes(update.kind)) badge();
    if (!kinds || kinds.includes(update.kind)) refresh();
  };
}

document.getElementById("logout").addEventListener("click", async () => {
  await api("/logout", { method: "POST" }).catch(() => null);
  location.href = "/login";
});

// The count of open referrals, on every page's "Referrals" link.
async function badge() {
  const link = document.querySelector("header nav a[href='/referrals']");
  const data = await api("/api/referrals").catch(() => null);
  if (!link || !data) return;
  const open = data.referrals.filter((r) => !r.claim).length;
  let count = document.getElementById("badge");
  if (!count) { count = el("span", { id: "badge", class: "badge" }); link.append(" ", count); }
  if (open > Number(count.textContent || 0) && document.getElementById("sound").checked) beep();
  count.textContent = String(open);
  count.className = open ? "badge on" : "badge";
}

// An optional sound for a new referral (off until the officer ticks it).
function beep() {
  const audio = new AudioContext(), tone = audio.createOscillator();
  tone.frequency.value = 880; tone.connect(audio.destination);
  tone.start(); tone.stop(audio.currentTime + 0.25);
}

api("/api/session").then((session) => {
  csrf = session.csrf; role = session.role;
  refresh();
  if (role !== "auditor") badge();
  listen();
  // A lane that stops reporting sends nothing: redraw the hall now and then to show it offline.
  if (VIEW === "hall") setInterval(refresh, 2000);
});
