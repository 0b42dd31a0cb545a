// Tenzro Local Node dashboard: polls the node's own API, no external resources.
"use strict";
const POLL_MS = 2000;
const KEEP = 150; // 5 minutes of 2 s samples
const series = { cpu: [], mem: [], throughput: [], queue: [] };
let lastCompleted = null;
let lastAt = null;

const $ = (id) => document.getElementById(id);
const pct = (ratio) => (ratio * 100).toFixed(1) + " %";
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// Away from the node's own machine the API needs a key: asked once, it starts a session (an HttpOnly cookie).
let askedForKey = false;
async function startSession() {
  if (askedForKey) return false;
  askedForKey = true;
  const key = window.prompt("This node needs an API key (tnz_<id>_<secret>) to show its dashboard:");
  if (!key) return false;
  const response = await fetch("/api/session", { method: "POST", headers: { authorization: "Bearer " + key.trim() } });
  askedForKey = response.ok;
  return response.ok;
}

async function get(path) {
  let response = await fetch(path, { headers: { accept: "application/json" } });
  if (response.status === 401 && await startSession()) response = await fetch(path, { headers: { accept: "application/json" } });
  if (!response.ok && response.status !== 503) throw new Error(path + " answered " + response.status);
  return response.json();
}

function push(list, value) {
  list.push(value);
  if (list.length > KEEP) list.shift();
}

function draw(canvas, lines, max) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 24;
  ctx.clearRect(0, 0, w, h);
  const top = Math.max(max ?? 0, ...lines.flatMap((l) => l.data), 1);
  ctx.strokeStyle = "#26304a"; ctx.fillStyle = "#7d8aa6"; ctx.font = "10px system-ui"; ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad / 2 + (h - pad) * (i / 4);
    ctx.beginPath(); ctx.moveTo(pad + 8, y); ctx.lineTo(w, y); ctx.stroke();
    const label = top * (1 - i / 4);
    ctx.fillText(top >= 10 ? String(Math.round(label)) : label.toFixed(1), 0, y + 3);
  }
  let points = 0;
  for (const line of lines) {
    if (line.data.length === 0) continue;
    points = Math.max(points, line.data.length);
    ctx.strokeStyle = line.color; ctx.lineWidth = 2; ctx.beginPath();
    line.data.forEach((v, i) => {
      const x = pad + 8 + (w - pad - 8) * (i / Math.max(KEEP - 1, 1));
      const y = pad / 2 + (h - pad) * (1 - v / top);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  canvas.dataset.points = String(points);
}

async function refreshMetrics() {
  const m = await get("/api/metrics");
  const s = m.summary;
  $("k-cpu").textContent = pct(s.hostCpuUtilization);
  $("k-mem").textContent = pct(s.hostMemoryUtilization);
  $("k-disk").textContent = pct(s.storageUtilization);
  $("k-running").textContent = s.tasksRunning;
  $("k-queued").textContent = s.tasksQueued;
  $("k-completed").textContent = s.tasksCompleted;
  $("k-failed").textContent = s.tasksFailed + s.tasksTimedOut;
  const now = Date.now();
  if (lastCompleted !== null && now > lastAt) {
    push(series.throughput, Math.max(0, (s.tasksCompleted - lastCompleted) * 60000 / (now - lastAt)));
  }
  lastCompleted = s.tasksCompleted; lastAt = now;
  push(series.cpu, s.hostCpuUtilization * 100);
  push(series.mem, s.hostMemoryUtilization * 100);
  push(series.queue, s.tasksQueued);
  draw($("chart-usage"), [{ data: series.cpu, color: "#5fb3ff" }, { data: series.mem, color: "#4cd28a" }], 100);
  draw($("chart-throughput"), [{ data: series.throughput, color: "#f2b84b" }]);
  draw($("chart-queue"), [{ data: series.queue, color: "#ef6b6b" }]);
}

async function refreshStatus() {
  const st = await get("/status");
  $("identity").textContent = `${st.peerId} · ${st.nodeType} · tier ${st.tier.configured} (qualifies for ${st.tier.qualified}) · ${st.region} · v${st.version} · up ${Math.round(st.uptimeSeconds)} s${st.draining ? " · draining" : ""}`;
  const link = $("link");
  link.textContent = "link: " + st.regional.state;
  link.className = "pill " + ({ joined: "ok", connecting: "warn", failed: "bad" }[st.regional.state] ?? "");
  $("k-earned").textContent = st.earnings?.total ?? 0;
  const dl = $("regional");
  dl.innerHTML = `<dt>state</dt><dd>${esc(st.regional.state)}</dd><dt>url</dt><dd>${esc(st.regional.url ?? "standalone")}</dd>` +
    `<dt>since</dt><dd>${esc(st.regional.since ?? "")}</dd><dt>reconnects</dt><dd>${esc(st.regional.reconnects)}</dd><dt>tokens</dt><dd>${esc(st.tokenBalance)}</dd>`;
  try {
    const [list, net] = await Promise.all([get("/api/peers"), get("/api/network/status")]);
    const peers = list.peers ?? [];
    $("peers-note").textContent = net.links ? `${net.links.open} of ${net.links.max} links open` : "";
    const dht = net.dht;
    const capacity = Math.max(1, (dht?.bucketsInUse ?? 0) * 20);
    $("dht").innerHTML = !dht ? "" : !dht.enabled ? "DHT off" :
      `DHT ${esc(dht.state)} · routing table ${esc(dht.routingTableSize)} contacts (${esc(dht.staleContacts ?? 0)} not answering) in ${esc(dht.bucketsInUse)} buckets` +
      ` <span class="bar" style="display:inline-block;vertical-align:middle" title="routing table fill: contacts of k × buckets in use"><div style="width:${Math.min(100, Math.round(100 * dht.routingTableSize / capacity))}%"></div></span>` +
      ` · ${esc(dht.records)} records${dht.error ? " · " + esc(dht.error) : ""}`;
    $("peers").innerHTML = peers.length ? peers.map((p) =>
      `<li title="${esc(p.id)}"><span class="pill ${({ open: "ok", connecting: "warn", failed: "bad" })[p.link] ?? ""}">${esc(p.link)}</span> ${esc(p.id.slice(0, 16))}` +
      ` <span class="muted">${esc(p.foundBy.join(", "))} · ${esc(p.tier ?? "")} ${esc(p.region ?? "")}${p.rttMs != null ? " · " + esc(p.rttMs) + " ms" : ""}` +
      `${p.lastError ? " · " + esc(p.lastError) : ""}</span></li>`).join("") : '<li class="muted">none known</li>';
  } catch { /* the peer list is optional: the panel keeps its last content */ }
  try {
    const g = await get("/api/aggregation");
    const p = g.pooled ?? {};
    $("group-note").textContent = !g.enabled ? "off" : g.state === "none" ? "" :
      `${g.state} · ${g.members.length} members · pooled ${p.cpuCores} cores` +
      `${p.cpuOpsPerSecond ? " (" + (p.cpuOpsPerSecond / 1e9).toFixed(1) + " G ops/s)" : ""}, ${p.memoryMB} MB`;
    $("group").innerHTML = g.members?.length ? g.members.map((m) =>
      `<li title="${esc(m.id)}"><span class="pill ${m.alive ? "ok" : "bad"}">${m.alive ? "alive" : "down"}</span> ${esc(m.id.slice(0, 16))}` +
      ` <span class="muted">${esc(m.role)}${m.free ? " · " + esc(m.free.cpuCores) + " cores free" + (m.free.cpuOpsPerSecond ? " (" + esc((m.free.cpuOpsPerSecond / 1e9).toFixed(1)) + " G ops/s)" : "") : ""}</span></li>`).join("") :
      `<li class="muted">${g.state === "forming" ? "forming a group" : "not in a group"}</li>`;
    showJobs(g.jobs ?? []);
  } catch { /* the group panel is optional: it keeps its last content */ }
  const health = await get("/health");
  const h = $("health");
  h.textContent = "health: " + health.status;
  h.className = "pill " + ({ healthy: "ok", degraded: "warn", unhealthy: "bad" }[health.status] ?? "");
}

// The group's split jobs (GET /api/aggregation, "jobs"): one table of parts per job, members by their short id.
function showJobs(jobs) {
  $("jobs-note").textContent = jobs.length ? `${jobs.length} running` : "";
  $("jobs").innerHTML = jobs.length ? jobs.map((j) => `<div class="job" data-job="${esc(j.taskId)}">
    <p><span class="mono" title="${esc(j.taskId)}">${esc(j.taskId)}</span> <span class="state ${esc(j.state)}">${esc(j.state)}</span>
    <span class="muted">${esc(j.done)} of ${esc(j.parts)} parts done · home ${esc((j.home ?? "").slice(0, 16))}</span></p>
    <table class="parts"><thead><tr><th>part</th><th>member</th><th>state</th><th>attempts</th><th>duration</th></tr></thead><tbody>` +
    (j.partList ?? []).map((p) => `<tr data-part="${esc(p.taskId)}">
      <td class="mono">${esc(p.taskId.slice(j.taskId.length))}</td><td class="mono" title="${esc(p.member ?? "")}">${esc((p.member ?? "–").slice(0, 16))}</td>
      <td><span class="state ${esc(p.state)}">${esc(p.state)}</span></td><td>${esc(p.attempts)}</td>
      <td>${p.durationMs == null ? "" : esc((p.durationMs / 1000).toFixed(1)) + " s"}</td></tr>`).join("") +
    "</tbody></table></div>").join("") : '<p class="muted">none running</p>';
}

async function refreshTasks() {
  const page = await get("/api/tasks?limit=15");
  $("tasks-note").textContent = page.items.length ? `latest ${page.items.length}` : "none yet";
  $("tasks").querySelector("tbody").innerHTML = page.items.map((t) => `<tr data-task="${esc(t.taskId)}">
    <td class="mono" title="${esc(t.taskId)}">${esc(t.taskId)}</td><td>${esc(t.type)}</td><td>${esc(t.priority)}</td>
    <td><span class="state ${esc(t.state)}">${esc(t.state)}</span></td>
    <td><div class="bar"><div style="width:${Math.round((t.progress ?? 0) * 100)}%"></div></div></td>
    <td>${esc((t.submittedAt ?? "").replace("T", " ").slice(0, 19))}</td>
    <td title="${esc(t.estimate ? `estimate from ${t.estimate.basis}, ${t.estimate.memoryMB} MB` : "no estimate")}">${esc(estimateText(t))}</td>
    <td title="${esc(t.error ?? t.waitingFor?.detail ?? "")}">${esc(t.error ?? t.waitingFor?.detail ?? "")}</td></tr>`).join("");
}

// The estimate made when the task was queued beside what it took (its run, start to end).
function estimateText(t) {
  const ms = (v) => (v >= 1000 ? (v / 1000).toFixed(1) + " s" : Math.round(v) + " ms");
  const estimate = t.estimate ? "~" + ms(t.estimate.durationMs) : "–";
  if (!t.startedAt || !t.finishedAt) return estimate;
  return `${estimate} / ${ms(Date.parse(t.finishedAt) - Date.parse(t.startedAt))}`;
}

function bandwidthText(network) {
  if (network?.bandwidthMbps == null) return "unknown (set BANDWIDTH_TEST_URL or BANDWIDTH_MBPS)";
  const m = network.measurement;
  const detail = network.bandwidthSource === "measured" && m
    ? ` · ${m.downloadMbps} down, ${m.uploadMbps ?? "?"} up, ${m.latencyMs} ms`
    : "";
  return `${network.bandwidthMbps} Mbps (${network.bandwidthSource})${detail}`;
}

async function loadHardware() {
  try {
    const p = await get("/api/hardware/profile");
    const rows = [
      ["cpu", `${p.cpu?.model ?? "?"} · ${p.cpu?.usableCores ?? p.cpu?.logicalCores} usable of ${p.cpu?.logicalCores} logical cores`],
      ["memory", `${((p.memory?.totalBytes ?? 0) / 2 ** 30).toFixed(1)} GiB (${((p.memory?.availableBytes ?? 0) / 2 ** 30).toFixed(1)} available)`],
      ["storage", `${((p.storage?.freeBytes ?? 0) / 2 ** 30).toFixed(1)} GiB free of ${((p.storage?.totalBytes ?? 0) / 2 ** 30).toFixed(1)}`],
      ["gpus", (p.gpus ?? []).length ? p.gpus.map((g) => g.name).join(", ") : "none"],
      ["bandwidth", bandwidthText(p.network)],
      ["fingerprint", (p.fingerprint ?? "").slice(0, 16)],
    ];
    $("hardware").innerHTML = rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
  } catch {
    $("hardware").innerHTML = '<dt class="muted">profile not available</dt>';
  }
}

async function tick() {
  try {
    await Promise.all([refreshMetrics(), refreshStatus(), refreshTasks()]);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("updated").textContent = "cannot reach the node: " + e.message;
  }
}

loadHardware();
tick();
setInterval(tick, POLL_MS);
