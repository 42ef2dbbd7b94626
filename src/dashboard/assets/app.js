// Freshet dashboard: polls /dashboard/api/state and the charts of the visible tab each second.
// Hand-written canvas charts; no libraries. window.__freshet exposes state for tests.
'use strict';

const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const ui = { tab: 'overview', stat: '', period: 10, range: 900, state: null, charts: [], selected: {}, showAllShards: false, catalog: null, explorer: null };
window.__freshet = ui;

// ---- formatting ----
function fmtNum(v, unit) {
  if (v == null || !isFinite(v)) return '–';
  const a = Math.abs(v);
  if (unit === 'Bytes') {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0, x = v;
    while (Math.abs(x) >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (i === 0 ? x.toFixed(0) : x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)) + ' ' + u[i];
  }
  if (unit === 'Milliseconds') return a === 0 ? '0 ms' : a >= 1000 ? (v / 1000).toFixed(a >= 10000 ? 0 : 1) + ' s' : (a >= 10 ? v.toFixed(0) : v.toFixed(2)) + ' ms';
  if (unit === 'Seconds') return (a >= 100 ? v.toFixed(0) : v.toFixed(1)) + ' s';
  if (a >= 1e9) return (v / 1e9).toFixed(2) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
  return v.toFixed(a >= 1 ? 2 : 3);
}
function fmtTime(t, range) {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  if (range > 2 * 86400) return `${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  if (range <= 900) return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return `${p(d.getHours())}:${p(d.getMinutes())}`;
}
function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}
function niceStep(span, n) {
  const raw = span / Math.max(n, 1);
  const mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

// ---- chart ----
class Chart {
  constructor(parent, spec) {
    this.spec = spec;
    this.el = document.createElement('div');
    this.el.className = 'chart';
    this.el.innerHTML = `<div class="head"><div><div class="title">${esc(spec.title)}</div><div class="meta"></div></div><div class="last">–</div></div><canvas></canvas><div class="tip" hidden></div>`;
    parent.appendChild(this.el);
    this.canvas = this.el.querySelector('canvas');
    this.meta = this.el.querySelector('.meta');
    this.last = this.el.querySelector('.last');
    this.tip = this.el.querySelector('.tip');
    this.data = null;
    this.hover = null;
    this.canvas.addEventListener('mousemove', (e) => { const r = this.canvas.getBoundingClientRect(); this.hover = e.clientX - r.left; this.draw(); });
    this.canvas.addEventListener('mouseleave', () => { this.hover = null; this.draw(); });
  }
  stat() { return ui.stat || this.spec.stat || 'Sum'; }
  url() {
    const s = this.spec;
    const q = new URLSearchParams({ ns: s.ns, name: s.name, dims: s.dims || '', stat: this.stat(), period: String(ui.period), range: String(ui.range) });
    if (s.agg) q.set('agg', '1');
    return '/dashboard/api/metric?' + q.toString();
  }
  async refresh() {
    try {
      const r = await fetch(this.url(), { cache: 'no-store' });
      this.data = await r.json();
    } catch (e) { return; }
    this.draw();
  }
  draw() {
    const c = this.canvas, d = this.data;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (!w || !h) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const pts = d && d.points ? d.points : [];
    const unit = d ? d.unit : 'None';
    c.dataset.points = String(pts.length);
    c.dataset.last = pts.length ? String(pts[pts.length - 1][1]) : '';
    c.dataset.metric = this.spec.ns + ' ' + this.spec.name;
    this.meta.textContent = `${this.spec.ns} · ${this.stat()} · ${ui.period >= 60 ? ui.period / 60 + ' min' : ui.period + ' s'}${this.spec.dims ? ' · ' + this.spec.dims.replace(/,/g, ', ') : ''}`;
    this.last.textContent = pts.length ? fmtNum(pts[pts.length - 1][1], unit) : '–';
    const L = 56, R = 10, T = 10, B = 22;
    const x0 = d ? d.start : Date.now() / 1000 - ui.range, x1 = d ? d.end : Date.now() / 1000;
    let lo = 0, hi = 0;
    for (const [, v] of pts) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (hi === lo) hi = lo + 1;
    const step = niceStep(hi - lo, 4);
    hi = Math.ceil(hi / step) * step; lo = Math.floor(lo / step) * step;
    const X = (t) => L + (w - L - R) * (t - x0) / Math.max(x1 - x0, 1);
    const Y = (v) => T + (h - T - B) * (1 - (v - lo) / (hi - lo));
    g.font = '11px ui-sans-serif, system-ui, sans-serif';
    g.fillStyle = '#8b9ab3'; g.strokeStyle = 'rgba(139,154,179,.12)'; g.lineWidth = 1;
    for (let v = lo; v <= hi + step / 2; v += step) {
      const y = Math.round(Y(v)) + .5;
      g.beginPath(); g.moveTo(L, y); g.lineTo(w - R, y); g.stroke();
      g.textAlign = 'right'; g.textBaseline = 'middle'; g.fillText(fmtNum(v, unit), L - 6, y);
    }
    const tstep = niceTimeStep((x1 - x0) / 6);
    g.textAlign = 'center'; g.textBaseline = 'top';
    for (let t = Math.ceil(x0 / tstep) * tstep; t < x1; t += tstep) {
      const x = X(t); if (x < L + 15 || x > w - R - 15) continue;
      g.fillText(fmtTime(t, ui.range), x, h - B + 6);
    }
    if (!pts.length) {
      g.fillStyle = '#8b9ab3'; g.textAlign = 'center'; g.textBaseline = 'middle';
      g.font = '13px ui-sans-serif, system-ui, sans-serif';
      g.fillText(d && d.error ? d.error : 'No data in this range yet', (L + w - R) / 2, (T + h - B) / 2);
      this.tip.hidden = true;
      return;
    }
    // Area and line; gaps longer than two periods break the line.
    const gap = 2 * (d.period || ui.period);
    const grad = g.createLinearGradient(0, T, 0, h - B);
    grad.addColorStop(0, 'rgba(45,212,191,.35)'); grad.addColorStop(1, 'rgba(45,212,191,0)');
    const segments = [];
    let cur = [];
    for (let i = 0; i < pts.length; i++) {
      if (i && pts[i][0] - pts[i - 1][0] > gap) { segments.push(cur); cur = []; }
      cur.push(pts[i]);
    }
    segments.push(cur);
    for (const s of segments) {
      g.beginPath(); g.moveTo(X(s[0][0]), Y(lo));
      for (const [t, v] of s) g.lineTo(X(t), Y(v));
      g.lineTo(X(s[s.length - 1][0]), Y(lo)); g.closePath(); g.fillStyle = grad; g.fill();
      g.beginPath();
      s.forEach(([t, v], i) => (i ? g.lineTo(X(t), Y(v)) : g.moveTo(X(t), Y(v))));
      g.strokeStyle = '#2dd4bf'; g.lineWidth = 1.8; g.lineJoin = 'round'; g.stroke();
      if (s.length === 1) { g.fillStyle = '#2dd4bf'; g.beginPath(); g.arc(X(s[0][0]), Y(s[0][1]), 2.5, 0, 7); g.fill(); }
    }
    if (this.hover != null && this.hover >= L) {
      let best = pts[0];
      for (const p of pts) if (Math.abs(X(p[0]) - this.hover) < Math.abs(X(best[0]) - this.hover)) best = p;
      const x = X(best[0]), y = Y(best[1]);
      g.strokeStyle = 'rgba(229,237,247,.35)'; g.beginPath(); g.moveTo(x, T); g.lineTo(x, h - B); g.stroke();
      g.fillStyle = '#e5edf7'; g.beginPath(); g.arc(x, y, 3.5, 0, 7); g.fill();
      this.tip.hidden = false;
      this.tip.textContent = `${fmtTime(best[0], 600)}  ${fmtNum(best[1], unit)}`;
      this.tip.style.left = Math.min(x + 14, w - 120) + 'px';
      this.tip.style.top = (y + 30) + 'px';
    } else {
      this.tip.hidden = true;
    }
  }
}
function niceTimeStep(s) {
  for (const c of [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800]) if (c >= s) return c;
  return 604800;
}

function setCharts(container, specs) {
  const key = JSON.stringify(specs);
  if (container.dataset.key === key) return;
  container.dataset.key = key;
  ui.charts = ui.charts.filter((c) => !container.contains(c.el));
  container.innerHTML = '';
  for (const s of specs) ui.charts.push(new Chart(container, s));
  refreshCharts();
}
function visibleCharts() { return ui.charts.filter((c) => c.el.isConnected && c.el.offsetParent !== null); }
async function refreshCharts() { await Promise.all(visibleCharts().map((c) => c.refresh())); }

// ---- rendering of state ----
function empty(html) { return `<div class="empty">${html}</div>`; }
function origin() { return location.origin; }

function renderOverview(st) {
  const open = st.streams.reduce((a, s) => a + s.open_shards, 0);
  const inAlarm = st.alarms.filter((a) => a.StateValue === 'ALARM').length;
  const kpi = (v, l, cls = '') => `<div class="kpi ${cls}"><div class="v">${v}</div><div class="l">${l}</div></div>`;
  $('#kpis').innerHTML = kpi(st.streams.length, 'Kinesis streams') + kpi(open, 'Open shards') + kpi(st.delivery.length, 'Delivery streams') +
    kpi(st.tables.length, 'Tables') + kpi(st.functions.length, 'Functions') + kpi(inAlarm + ' / ' + st.alarms.length, 'Alarms in ALARM', inAlarm ? 'alert' : '');
  $('#ov-streams').innerHTML = st.streams.length ? `<table><tr><th>Name</th><th>Status</th><th>Mode</th><th class="num">Open / all shards</th><th class="num">Retention</th><th class="num">Consumers</th></tr>` +
    st.streams.map((s) => `<tr><td><a href="#streams" data-stream="${esc(s.name)}">${esc(s.name)}</a></td><td><span class="pill ${esc(s.status)}">${esc(s.status)}</span></td><td>${esc(s.mode)}</td><td class="num">${s.open_shards} / ${s.total_shards}</td><td class="num">${s.retention_hours} h</td><td class="num">${s.consumers}</td></tr>`).join('') + '</table>'
    : empty(`No Kinesis streams yet.<br><code>aws kinesis create-stream --stream-name demo --shard-count 2 --endpoint-url ${esc(origin())}</code>`);
  $('#ov-delivery').innerHTML = st.delivery.length ? st.delivery.map((d) => `<div style="margin-bottom:14px"><div><b>${esc(d.name)}</b> <span class="pill ${esc(d.status)}">${esc(d.status)}</span>
      <span class="muted">${d.source ? esc(d.source) + ' → ' : ''}s3://${esc(d.bucket)}/${esc(d.prefix)} · ${d.buffer_mb} MiB / ${d.buffer_seconds} s · ${esc(d.compression)} · ${d.object_count ?? 0}${d.object_count_more ? '+' : ''} recent objects</span></div>
      ${d.objects.length ? '<ul class="objects">' + d.objects.map((o) => `<li><a href="/${encodeURIComponent(d.bucket)}/${o.key.split('/').map(encodeURIComponent).join('/')}" download>${esc(o.key)}</a><span>${fmtNum(o.size, 'Bytes')} · ${ago(o.modified)}</span></li>`).join('') + '</ul>' : '<div class="muted" style="font-size:12px;margin-top:4px">Nothing delivered yet.</div>'}</div>`).join('')
    : empty(`No Firehose delivery streams yet.<br><code>aws firehose create-delivery-stream --delivery-stream-name demo --endpoint-url ${esc(origin())} …</code>`);
  $('#ov-tables').innerHTML = st.tables.length ? `<table><tr><th>Name</th><th>Status</th><th>Key</th><th class="num">Items</th><th class="num">Size</th></tr>` +
    st.tables.map((t) => `<tr><td><b>${esc(t.name)}</b></td><td><span class="pill ${esc(t.status)}">${esc(t.status)}</span></td><td>${esc(t.key)}</td><td class="num">${t.items}</td><td class="num">${fmtNum(t.bytes, 'Bytes')}</td></tr>` +
      (t.sample.length ? `<tr><td colspan="5">${t.sample.map((s) => `<div class="sample" title="${esc(s)}">${esc(s)}</div>`).join('')}</td></tr>` : '')).join('') + '</table>'
    : empty(`No DynamoDB tables yet.<br><code>aws dynamodb create-table --table-name demo … --endpoint-url ${esc(origin())}</code>`);
  $('#ov-functions').innerHTML = st.functions.length || st.mappings.length ? functionsTable(st, true) + mappingsTable(st)
    : empty('No functions or event source mappings yet.<br><span style="font-size:12px">Declare functions with <code>freshet serve --functions functions.yaml</code>, then <code>aws lambda create-event-source-mapping … --endpoint-url ' + esc(origin()) + '</code></span>');
}

function functionsTable(st, brief) {
  if (!st.functions.length) return '';
  return `<table class="fn-table"><tr><th>Function</th><th>Runtime</th><th>State</th><th class="num">Mappings</th><th class="num">Invocations</th><th class="num">Errors</th><th class="num">IteratorAge</th>${brief ? '' : '<th class="num">Timeout</th><th class="num">Memory</th>'}</tr>` +
    st.functions.map((f) => `<tr data-function="${esc(f.name)}"><td><b>${esc(f.name)}</b> <span class="muted">${esc(f.kind)}</span></td><td>${esc(f.runtime)}</td><td><span class="pill ${esc(f.state)}">${esc(f.state)}</span></td>
      <td class="num">${f.mappings}</td><td class="num" data-k="invocations">${f.invocations}</td><td class="num" data-k="errors">${f.errors}</td><td class="num" data-k="iterator_age_ms">${fmtNum(f.iterator_age_ms, 'Milliseconds')}</td>
      ${brief ? '' : `<td class="num">${f.timeout_s} s</td><td class="num">${f.memory_mb} MB</td>`}</tr>`).join('') + '</table>';
}
function mappingsTable(st) {
  if (!st.mappings.length) return '<div class="muted" style="font-size:12px;margin-top:8px">No event source mappings yet.</div>';
  return `<table class="esm-table"><tr><th>Mapping</th><th>Function</th><th>Source</th><th>State</th><th class="num">Records processed</th><th class="num">Errors</th><th class="num">DLQ'd</th><th class="num">IteratorAge</th><th>Last result</th></tr>` +
    st.mappings.map((m) => `<tr data-uuid="${esc(m.uuid)}"><td><code>${esc(m.uuid.slice(0, 8))}</code></td><td>${esc(m.function)}</td><td>${esc(m.source)}${m.on_failure ? ' <span class="muted">(on failure → ' + esc(m.on_failure) + ')</span>' : ''}</td>
      <td><span class="pill ${esc(m.state)}" data-k="state">${esc(m.state)}</span></td><td class="num" data-k="records">${m.records}</td><td class="num" data-k="errors">${m.errors}</td>
      <td class="num" data-k="dlq">${m.dlq}</td><td class="num" data-k="iterator_age_ms">${fmtNum(m.iterator_age_ms, 'Milliseconds')}</td><td class="muted" data-k="last_result">${esc(m.last_result)}</td></tr>`).join('') + '</table>';
}

function renderFunctions(st) {
  $('#fn-functions').innerHTML = st.functions.length ? functionsTable(st, false)
    : empty('No functions yet.<br><span style="font-size:12px">Declare them with <code>freshet serve --functions functions.yaml</code> (docs/process.md).</span>');
  $('#fn-mappings').innerHTML = st.mappings.length ? mappingsTable(st)
    : empty(`No event source mappings yet.<br><code>aws lambda create-event-source-mapping --function-name NAME --event-source-arn STREAM_ARN --starting-position LATEST --endpoint-url ${esc(origin())}</code>`);
  const ids = st.mappings.map((m) => m.uuid);
  ui.selected.mapping = fillSelect($('#fn-mapping'), ids, ui.selected.mapping);
  const m = st.mappings.find((x) => x.uuid === ui.selected.mapping);
  $('#fn-hint').textContent = m ? `${m.function} ← ${m.source} · batch ${m.batch_size} · ${m.starting_position} · ${m.shards_running} of ${m.shards} shards running` : '';
  const M = (name, stat, title) => ({ ns: 'AWS/Lambda', name, dims: m ? 'EventSourceMappingUUID:' + m.uuid : '', stat, title });
  setCharts($('#fn-charts'), m ? [M('PolledEventCount', 'Sum', 'Records processed (PolledEventCount, Sum)'),
    { ns: 'AWS/Lambda', name: 'Errors', dims: 'FunctionName:' + m.function, stat: 'Sum', title: `Errors (Sum) · ${m.function}` },
    M('OnFailureDestinationDeliveredEventCount', 'Sum', "DLQ'd (OnFailureDestinationDeliveredEventCount, Sum)"),
    M('IteratorAge', 'Maximum', 'IteratorAge (Maximum)')] : []);
}

function renderAlarms(st) {
  const n = st.alarms.filter((a) => a.StateValue === 'ALARM').length;
  const b = $('#alarm-badge'); b.hidden = !n; b.textContent = n;
  $('#al-list').innerHTML = st.alarms.length ? `<table><tr><th>State</th><th>Name</th><th>Metric</th><th>Condition</th><th>Reason</th><th>Updated</th></tr>` +
    st.alarms.map((a) => `<tr><td><span class="pill ${esc(a.StateValue)}">${esc(a.StateValue)}</span></td><td><b>${esc(a.AlarmName)}</b>${a.ActionsEnabled ? '' : ' <span class="muted">(actions off)</span>'}</td>
      <td>${esc(a.Namespace)} ${esc(a.MetricName)}<div class="muted" style="font-size:11px">${(a.Dimensions || []).map((d) => esc(d.Name + '=' + d.Value)).join(', ')}</div></td>
      <td>${esc(a.Statistic || a.ExtendedStatistic)} ${esc(cmpWord(a.ComparisonOperator))} ${a.Threshold} for ${a.DatapointsToAlarm} of ${a.EvaluationPeriods} × ${a.Period} s</td>
      <td style="max-width:420px" class="muted">${esc(a.StateReason)}</td><td class="muted">${a.StateUpdatedTimestamp ? ago(a.StateUpdatedTimestamp * 1000) : ''}</td></tr>`).join('') + '</table>'
    : empty(`No alarms yet.<br><code>aws cloudwatch put-metric-alarm --alarm-name hot --namespace AWS/Kinesis --metric-name IncomingRecords --dimensions Name=StreamName,Value=demo --statistic Sum --period 60 --evaluation-periods 1 --threshold 1000 --comparison-operator GreaterThanThreshold --endpoint-url ${esc(origin())}</code>`);
}
function cmpWord(c) { return { GreaterThanOrEqualToThreshold: '≥', GreaterThanThreshold: '>', LessThanThreshold: '<', LessThanOrEqualToThreshold: '≤' }[c] || c; }

function fillSelect(sel, names, current) {
  const html = names.map((n) => `<option${n === current ? ' selected' : ''}>${esc(n)}</option>`).join('');
  if (sel.dataset.html !== html) { sel.innerHTML = html; sel.dataset.html = html; }
  return names.includes(current) ? current : names[0];
}

function renderPipeline(st) {
  const ds = st.delivery.map((d) => d.name), ts = st.tables.map((t) => t.name);
  ui.selected.delivery = fillSelect($('#pl-delivery'), ds, ui.selected.delivery);
  ui.selected.table = fillSelect($('#pl-table'), ts, ui.selected.table);
  const d = ui.selected.delivery, t = ui.selected.table;
  const src = st.delivery.find((x) => x.name === d);
  $('#pl-hint').textContent = d ? `${src && src.source ? src.source + ' → ' : ''}${d} → s3://${src ? src.bucket : ''}` : 'Create a delivery stream (and a table) to see the pipeline.';
  const F = (name, stat, title) => ({ ns: 'AWS/Firehose', name, dims: d ? 'DeliveryStreamName:' + d : '', stat, title });
  setCharts($('#pl-charts'), [
    { ns: 'AWS/DynamoDB', name: 'ConsumedReadCapacityUnits', dims: t ? 'TableName:' + t : '', stat: 'Sum', agg: true, title: `Read capacity (Count)${t ? ' · ' + t : ''}` },
    F('DataReadFromKinesisStream.Records', 'Sum', 'DataReadFromKinesisStream Records (Sum)'),
    F('DataReadFromKinesisStream.Bytes', 'Sum', 'DataReadFromKinesisStream Bytes (Sum)'),
    F('KinesisMillisBehindLatest', 'Maximum', 'KinesisMillisBehindLatest (Maximum)'),
    F('DeliveryToS3.DataFreshness', 'Maximum', 'DeliveryToS3 DataFreshness (Maximum)'),
    F('DeliveryToS3.Bytes', 'Sum', 'DeliveryToS3 Bytes (Sum)'),
    F('DeliveryToS3.Records', 'Sum', 'DeliveryToS3 Records (Sum)'),
  ]);
}

function renderStreams(st) {
  const names = st.streams.map((s) => s.name);
  ui.selected.stream = fillSelect($('#st-stream'), names, ui.selected.stream);
  const s = st.streams.find((x) => x.name === ui.selected.stream);
  const dims = s ? 'StreamName:' + s.name : '';
  const K = (name, stat, title) => ({ ns: 'AWS/Kinesis', name, dims, stat, title });
  setCharts($('#st-charts'), [K('IncomingRecords', 'Sum', 'IncomingRecords (Sum)'), K('IncomingBytes', 'Sum', 'IncomingBytes (Sum)'),
    K('PutRecords.Latency', 'Average', 'PutRecords.Latency (Average)'), K('GetRecords.IteratorAgeMilliseconds', 'Maximum', 'GetRecords.IteratorAgeMilliseconds (Maximum)')]);
  if (!s) { $('#st-shards').innerHTML = empty('No Kinesis streams yet.'); $('#st-shard-count').textContent = ''; $('#st-hint').textContent = ''; return; }
  $('#st-hint').textContent = `${s.status} · ${s.mode} · retention ${s.retention_hours} h · created ${ago(s.created)}`;
  $('#st-shard-count').textContent = `${s.open_shards} open, ${s.total_shards} in all`;
  const max = 340282366920938463463374607431768211455; // 2^128 - 1 (as a double)
  const shards = ui.showAllShards ? s.shards : s.shards.slice(0, 200);
  const rows = shards.map((h) => {
    const a = Number(h.start) / max * 100, b = Number(h.end) / max * 100;
    return `<tr><td><code>${esc(h.id)}</code></td><td><span class="pill ${h.open ? 'open' : 'closed'}">${h.open ? 'OPEN' : 'CLOSED'}</span></td>
      <td><div class="range-bar" title="${esc(h.start)} – ${esc(h.end)}"><i style="left:${a.toFixed(2)}%;width:${Math.max(b - a, .4).toFixed(2)}%"></i></div></td>
      <td class="muted">${h.parent ? esc(h.parent) : ''}${h.adjacent ? ' + ' + esc(h.adjacent) : ''}</td><td class="num">${h.records ?? ''}</td></tr>`;
  });
  $('#st-shards').innerHTML = `<table><tr><th>Shard</th><th>State</th><th>Hash key range</th><th>Parents</th><th class="num">Records stored</th></tr>${rows.join('')}</table>` +
    (s.shards.length > shards.length ? `<button class="more" id="all-shards">Show all ${s.shards.length} shards</button>` : '');
  const more = $('#all-shards');
  if (more) more.onclick = () => { ui.showAllShards = true; renderStreams(ui.state); };
}

async function renderMetrics() {
  if (!ui.catalog || Date.now() - ui.catalogAt > 5000) {
    try { ui.catalog = (await (await fetch('/dashboard/api/metrics', { cache: 'no-store' })).json()).metrics; ui.catalogAt = Date.now(); } catch (e) { return; }
  }
  const f = $('#mx-filter').value.toLowerCase();
  const list = ui.catalog.filter((m) => !f || (m.ns + ' ' + m.name + ' ' + m.dims).toLowerCase().includes(f)).slice(0, 300);
  const html = list.length ? list.map((m) => `<div class="metric-row${ui.explorer && ui.explorer.key === m.ns + '|' + m.name + '|' + m.dims ? ' sel' : ''}" data-key="${esc(m.ns + '|' + m.name + '|' + m.dims)}"><div class="n">${esc(m.name)}</div><div class="d">${esc(m.ns)}${m.dims ? ' · ' + esc(m.dims.replace(/,/g, ', ')) : ''} · ${esc(m.unit)}</div></div>`).join('')
    : empty('No metrics yet. Traffic to any API (or PutMetricData) creates them.');
  if ($('#mx-list').dataset.html !== html) { $('#mx-list').innerHTML = html; $('#mx-list').dataset.html = html; }
  if (!ui.explorer && list.length) pickMetric(list[0].ns + '|' + list[0].name + '|' + list[0].dims);
}
function pickMetric(key) {
  const [ns, name, dims] = key.split('|');
  const m = (ui.catalog || []).find((x) => x.ns === ns && x.name === name && x.dims === dims);
  const stat = m && /Latency|Age|Freshness|Behind|Duration/.test(name) ? (m.unit === 'Milliseconds' && /Latency|Duration/.test(name) ? 'Average' : 'Maximum') : 'Sum';
  ui.explorer = { key };
  setCharts($('#mx-charts'), [{ ns, name, dims, stat, title: name }]);
  $('#mx-list').dataset.html = '';
  renderMetrics();
}

// ---- polling ----
async function pollState() {
  try {
    const r = await fetch('/dashboard/api/state', { cache: 'no-store' });
    if (!r.ok) throw new Error(String(r.status));
    ui.state = await r.json();
    $('#live').className = 'live ok';
    $('#clock').textContent = 'live · ' + new Date(ui.state.time).toLocaleTimeString();
    $('#region').textContent = ui.state.region;
    render();
  } catch (e) {
    $('#live').className = 'live down';
    $('#clock').textContent = 'server unreachable';
  }
}
function render() {
  const st = ui.state;
  if (!st) return;
  renderAlarms(st);
  if (ui.tab === 'overview') renderOverview(st);
  if (ui.tab === 'pipeline') renderPipeline(st);
  if (ui.tab === 'streams') renderStreams(st);
  if (ui.tab === 'functions') renderFunctions(st);
  if (ui.tab === 'metrics') renderMetrics();
}
async function loop() {
  const t0 = performance.now();
  await Promise.all([pollState(), refreshCharts()]);
  ui.polls = (ui.polls || 0) + 1;
  setTimeout(loop, Math.max(100, 1000 - (performance.now() - t0)));
}

function showTab(tab) {
  ui.tab = ['overview', 'pipeline', 'streams', 'functions', 'metrics', 'alarms'].includes(tab) ? tab : 'overview';
  document.querySelectorAll('#tabs a').forEach((a) => a.classList.toggle('active', a.dataset.tab === ui.tab));
  document.querySelectorAll('.tab').forEach((s) => { s.hidden = s.id !== 'tab-' + ui.tab; });
  $('#controls').hidden = ui.tab === 'overview' || ui.tab === 'alarms';
  render();
  refreshCharts();
}

window.addEventListener('hashchange', () => showTab(location.hash.slice(1)));
$('#stat').onchange = (e) => { ui.stat = e.target.value; refreshCharts(); };
$('#period').onchange = (e) => { ui.period = Number(e.target.value); refreshCharts(); };
$('#range').onclick = (e) => {
  const b = e.target.closest('button'); if (!b) return;
  ui.range = Number(b.dataset.range);
  document.querySelectorAll('#range button').forEach((x) => x.classList.toggle('on', x === b));
  // Keep a sensible number of points: at most about 1,500 per chart.
  const min = [1, 5, 10, 60, 300, 3600].find((p) => ui.range / p <= 1500);
  if (ui.period < min) { ui.period = min; $('#period').value = String(min); }
  refreshCharts();
};
$('#pl-delivery').onchange = (e) => { ui.selected.delivery = e.target.value; render(); };
$('#pl-table').onchange = (e) => { ui.selected.table = e.target.value; render(); };
$('#fn-mapping').onchange = (e) => { ui.selected.mapping = e.target.value; render(); };
$('#st-stream').onchange = (e) => { ui.selected.stream = e.target.value; ui.showAllShards = false; render(); };
$('#mx-filter').oninput = () => renderMetrics();
$('#mx-list').onclick = (e) => { const r = e.target.closest('.metric-row'); if (r) pickMetric(r.dataset.key); };
document.addEventListener('click', (e) => { const a = e.target.closest('a[data-stream]'); if (a) { ui.selected.stream = a.dataset.stream; } });
window.addEventListener('resize', () => ui.charts.forEach((c) => c.draw()));
$('#origin').textContent = location.origin;
showTab(location.hash.slice(1) || 'overview');
loop();
