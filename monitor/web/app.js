// xwan status page: polls the agent's JSON API and draws the tables and
// SVG charts itself (no library, nothing fetched from elsewhere).
'use strict';
(function () {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  const $ = (sel, root) => (root || document).querySelector(sel);
  const STATUS = ['pending', 'online', 'warning', 'down'];
  const HOUR_S = 3600;
  const state = { range: 'hour', hour: new Map(), day: new Map(), dayAt: 0,
                  events: 0, gateways: [] };

  async function get(path) {
    const r = await fetch(path, { headers, cache: 'no-store' });
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }

  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k));
    return e;
  }

  const ms = v => v == null ? '-' : v.toFixed(1) + ' ms';
  const pct = v => v == null ? '-' : v.toFixed(1) + ' %';
  const when = s => s ? new Date(s * 1000).toLocaleString() : '-';
  const clock = s => new Date(s * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  function si(v, unit) {
    const p = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']].find(([d]) => Math.abs(v) >= d);
    return (p ? (v / p[0]).toFixed(1) + ' ' + p[1] : Math.round(v) + ' ') + unit;
  }
  function age(s) {
    if (s < 60) return s.toFixed(0) + 's';
    if (s < 3600) return (s / 60).toFixed(0) + 'm';
    return (s / 3600).toFixed(1) + 'h';
  }

  function setAgent(ok, text) {
    const a = $('#agent');
    a.textContent = text;
    a.className = 'agent ' + (ok ? 'ok' : 'bad');
  }

  // ---- gateways -------------------------------------------------------------------
  function gatewayRow(g) {
    let tr = $(`#gateways tbody tr[data-gateway="${CSS.escape(g.name)}"]`);
    if (!tr) {
      tr = h('tr', { 'data-gateway': g.name });
      for (let i = 0; i < 13; i++) tr.append(h('td'));
      [2, 3, 4, 5, 6, 7].forEach(i => tr.children[i].classList.add('num'));
      tr.children[9].classList.add('wrap');
      $('#gateways tbody').append(tr);
    }
    const c = tr.children;
    c[0].textContent = g.name;
    c[1].replaceChildren(h('span', { class: 'status status-' + g.status,
                                     'data-status': g.status }, g.status));
    c[2].textContent = ms(g.rtt_ms);
    c[3].textContent = ms(g.rttsd_ms);
    c[4].textContent = pct(g.loss_pct);
    c[5].textContent = g.tier == null ? '-' : g.tier;
    c[6].textContent = g.weight == null ? '-' : g.weight;
    c[7].textContent = g.flows;
    c[8].textContent = when(g.since_unix);
    c[9].textContent = g.reason || '';
    c[10].textContent = g.interface;
    c[11].textContent = g.address;
    c[12].textContent = g.gateway + (g.gateway_auto ? ' (auto)' : '');
    tr.dataset.status = g.status;
    tr.dataset.usable = g.usable;
  }

  async function pollStatus() {
    const s = await get('api/status');
    const names = new Set(s.gateways.map(g => g.name));
    s.gateways.forEach(gatewayRow);
    document.querySelectorAll('#gateways tbody tr').forEach(tr => {
      if (!names.has(tr.dataset.gateway)) tr.remove();
    });
    state.gateways = s.gateways.map(g => g.name);
    state.totalFlows = s.gateways.reduce((n, g) => n + g.flows, 0);
    const sel = $('#flows-filter select[name=wan]');
    const have = Array.from(sel.options).map(o => o.value).filter(v => v);
    if (have.join() !== state.gateways.join()) {
      const cur = sel.value;
      sel.replaceChildren(h('option', { value: '' }, 'any'),
                          ...state.gateways.map(n => h('option', { value: n }, n)));
      sel.value = state.gateways.includes(cur) ? cur : '';
    }
    setAgent(s.agent.running, s.agent.running ? 'agent running' : 'agent not running: last readings');
    $('#updated').textContent = 'updated ' + new Date(s.now_unix * 1000).toLocaleTimeString();
  }

  // ---- charts ---------------------------------------------------------------------
  // points: [t, rtt, rttsd, loss, rtt_max, loss_max, in_bps, out_bps, status]
  // A gateway's IPv6 side is a series of its own, charted after its IPv4 one.
  const V6 = ' (IPv6)';
  const seriesKey = g => g.family === 'ipv6' ? g.name + V6 : g.name;
  function mergeHour(series) {
    for (const g of series) {
      const have = state.hour.get(seriesKey(g)) || [];
      const last = have.length ? have[have.length - 1][0] : 0;
      for (const p of g.points) if (p[0] > last) have.push(p);
      const cut = (have.length ? have[have.length - 1][0] : 0) - HOUR_S;
      while (have.length && have[0][0] <= cut) have.shift();
      state.hour.set(seriesKey(g), have);
    }
  }

  async function pollHistory() {
    let since = 0;
    for (const pts of state.hour.values()) {
      if (pts.length) since = since ? Math.min(since, pts[pts.length - 1][0]) : pts[pts.length - 1][0];
    }
    const r = await get('api/history?range=hour' + (since ? '&since=' + since : ''));
    mergeHour(r.gateways);
    for (const name of Array.from(state.hour.keys()))
      if (!r.gateways.some(g => seriesKey(g) === name)) state.hour.delete(name);
    const now = Date.now() / 1000;
    if (state.range === 'day' && now - state.dayAt > 30) {
      const d = await get('api/history?range=day');
      state.day = new Map(d.gateways.map(g => [seriesKey(g), g.points]));
      state.dayAt = now;
    }
    drawCharts();
  }

  const W = 600, H = 110, PAD_L = 44, PAD_B = 16, PAD_T = 6;
  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  }

  // One chart: lines of [t, value] (null: a gap), shaded where the gateway was down.
  function chart(kind, title, lines, pts, t0, t1, fmt, floor) {
    let max = floor;
    for (const l of lines) for (const p of pts) {
      const v = p[l.col];
      if (v != null && v > max) max = v;
    }
    max *= 1.1;
    const x = t => PAD_L + (W - PAD_L - 4) * (t - t0) / Math.max(1, t1 - t0);
    const y = v => PAD_T + (H - PAD_T - PAD_B) * (1 - v / max);
    const svg = s('svg', { class: kind, viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none' });
    for (const f of [0, 0.5, 1]) {
      svg.append(s('line', { class: 'grid', x1: PAD_L, x2: W - 4, y1: y(max * f / 1.1), y2: y(max * f / 1.1) }));
      svg.append(s('text', { x: 2, y: y(max * f / 1.1) + 3 }, fmt(max * f / 1.1)));
    }
    svg.append(s('text', { x: PAD_L, y: H - 3 }, clock(t0)));
    svg.append(s('text', { x: W - 4, y: H - 3, 'text-anchor': 'end' }, clock(t1)));
    let downFrom = null;
    const step = state.range === 'day' ? 60 : 1;
    pts.forEach((p, i) => {
      const down = p[8] === 3;
      if (down && downFrom === null) downFrom = p[0];
      if (downFrom !== null && (!down || i === pts.length - 1)) {
        const end = down ? p[0] + step : p[0];
        svg.append(s('rect', { class: 'down', x: x(downFrom), y: PAD_T,
                               width: Math.max(1, x(end) - x(downFrom)), height: H - PAD_T - PAD_B }));
        downFrom = null;
      }
    });
    for (const l of lines) {
      let d = '', n = 0, pen = false, prev = null;
      for (const p of pts) {
        const v = p[l.col];
        // a gap in time (the agent was not running) breaks the line too
        if (v == null || (prev !== null && p[0] - prev > 3 * step)) pen = false;
        prev = p[0];
        if (v == null) continue;
        d += (pen ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(v).toFixed(1);
        pen = true;
        n++;
      }
      svg.append(s('path', { class: 'line ' + l.cls, d: d || 'M0,0', 'data-points': n }));
    }
    const legend = h('span', { class: 'legend' }, ...lines.map(l =>
      h('span', {}, h('i', { style: `background: var(--${l.cls})` }), l.name)));
    return h('div', { class: 'chart' }, h('div', { class: 'title' }, title, ' ', legend), svg);
  }

  function drawCharts() {
    const box = $('#charts');
    const data = state.range === 'day' ? state.day : state.hour;
    const now = Date.now() / 1000;
    const span = state.range === 'day' ? 86400 : HOUR_S;
    const day = state.range === 'day';
    const kids = [], names = [];
    for (const n of state.gateways.length ? state.gateways : Array.from(data.keys())) {
      names.push(n);
      if (state.gateways.length && data.has(n + V6)) names.push(n + V6);
    }
    for (const name of names) {
      const pts = data.get(name) || [];
      let t1 = pts.length ? Math.max(pts[pts.length - 1][0], now - 5) : now;
      const t0 = Math.max(t1 - span, pts.length ? pts[0][0] : t1 - 60);
      kids.push(h('div', { class: 'gw-charts', 'data-gateway': name }, h('h3', {}, name),
        chart('rtt', 'RTT', day
          ? [{ col: 1, cls: 'rtt', name: 'mean' }, { col: 4, cls: 'sd', name: 'worst' }]
          : [{ col: 1, cls: 'rtt', name: 'rtt' }, { col: 2, cls: 'sd', name: 'deviation' }],
          pts, t0, t1, v => v.toFixed(1) + ' ms', 1),
        chart('loss', 'Loss', day
          ? [{ col: 3, cls: 'loss', name: 'mean' }, { col: 5, cls: 'sd', name: 'worst' }]
          : [{ col: 3, cls: 'loss', name: 'loss' }],
          pts, t0, t1, v => v.toFixed(0) + ' %', 5),
        chart('throughput', 'Throughput', [{ col: 6, cls: 'in', name: 'in' },
                                           { col: 7, cls: 'out', name: 'out' }],
          pts, t0, t1, v => si(v, 'b/s'), 1000)));
    }
    box.replaceChildren(...kids);
  }

  document.querySelectorAll('#range button').forEach(b => b.addEventListener('click', () => {
    document.querySelectorAll('#range button').forEach(o => o.classList.toggle('on', o === b));
    state.range = b.dataset.range;
    state.dayAt = 0;
    pollHistory().catch(() => {});
  }));

  // ---- events ---------------------------------------------------------------------
  async function pollEvents() {
    const r = await get('api/events?since=' + state.events + '&limit=200');
    const body = $('#events tbody');
    for (const e of r.events) {
      body.prepend(h('tr', { class: 'kind-' + e.kind, 'data-kind': e.kind },
        h('td', {}, new Date(e.t * 1000).toLocaleString()), h('td', {}, e.kind),
        h('td', { class: 'wrap' }, e.text)));
    }
    while (body.children.length > 500) body.lastChild.remove();
    state.events = r.next;
  }

  // ---- flows ----------------------------------------------------------------------
  async function pollFlows() {
    const f = new FormData($('#flows-filter'));
    const q = new URLSearchParams();
    for (const [k, v] of f) if (v) q.set(k, v.trim());
    const r = await get('api/flows?' + q);
    $('#flows tbody').replaceChildren(...r.flows.map(x => h('tr', {},
      h('td', {}, x.proto), h('td', {}, x.kind), h('td', {}, x.client), h('td', {}, x.nat),
      h('td', {}, x.remote), h('td', {}, x.wan), h('td', {}, x.state),
      h('td', { class: 'num' }, age(x.age_s)), h('td', { class: 'num' }, age(x.idle_s)),
      h('td', { class: 'num' }, si(x.bytes_out, 'B')), h('td', { class: 'num' }, si(x.bytes_in, 'B')),
      h('td', {}, x.rule))));
    $('#flows-count').textContent = r.matched > r.flows.length
      ? `first ${r.flows.length} of ${r.matched} matching` : `${r.matched} matching`;
  }
  $('#flows-filter').addEventListener('submit', e => { e.preventDefault(); pollFlows().catch(() => {}); });
  $('#flows-filter').addEventListener('change', () => pollFlows().catch(() => {}));

  // ---- polling: each on its own period, an error shown and retried ------------------
  function every(ms, fn) {
    const run = async () => {
      try { await fn(); } catch (e) { setAgent(false, 'cannot reach the agent: ' + e.message); }
      setTimeout(run, ms);
    };
    run();
  }
  every(1000, pollStatus);
  every(2000, pollHistory);
  every(2000, pollEvents);
  // A listing scans the whole flow table (seconds at a million flows): refresh
  // it by itself only while the table is small, else on a filter change.
  const AUTO_FLOWS_MAX = 50000;
  every(5000, async () => {
    if (document.hidden) return;
    const total = state.totalFlows || 0;
    $('#flows-auto').textContent = total > AUTO_FLOWS_MAX
      ? `(${total} flows: refreshed on a filter change or with the button)` : '';
    if (total <= AUTO_FLOWS_MAX) await pollFlows();
  });
})();
