// gaze web UI: plain JavaScript, no build step, no CDN. Hash routes:
// #/login #/register #/dashboard #/session #/calibrate #/report/<id> #/history
'use strict';

const app = document.getElementById('app');
let me = null;          // the logged-in user, or null
let cleanup = null;     // teardown of the current page (camera, sockets, timers)

const COLORS = {
  reading: '#2f6fed', browsing: '#f0a030', watching: '#8e44ad', other: '#7f8c8d',
  none: '#d0d4dc', focused: '#2fb35a', distracted: '#e0462f', no_data: '#c9ced8',
};

function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
function secs(v) { return (Number(v) || 0).toFixed(1) + ' s'; }
function when(ms) { return ms ? new Date(ms).toLocaleString() : '—'; }
function $(id) { return document.getElementById(id); }

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['content-type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
  if (!r.ok) {
    const err = new Error((data && data.error) || r.statusText);
    err.status = r.status;
    throw err;
  }
  return data;
}

function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

async function refreshMe() {
  try { me = await api('GET', '/users/me'); } catch (_) { me = null; }
  $('nav').hidden = !me;
  $('whoami').textContent = me ? me.username + (me.is_admin ? ' (admin)' : '') : '';
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (_) { } cleanup = null; }
  const parts = (location.hash || '#/dashboard').slice(2).split('/');
  const page = parts[0] || 'dashboard';
  if (me === null && page !== 'login' && page !== 'register') {
    await refreshMe();
    if (!me) return go('#/login');
  }
  const pages = { login: loginPage, register: registerPage, dashboard: dashboardPage, session: sessionPage,
    calibrate: calibratePage, report: reportPage, history: historyPage };
  (pages[page] || dashboardPage)(parts.slice(1));
}

// ---- auth pages ----------------------------------------------------------------------

function loginPage() {
  app.innerHTML = `<div class="card"><h2>Log in</h2>
    <form class="auth" id="login-form">
      <input id="login-username" name="username" placeholder="username" autocomplete="username" required>
      <input id="login-password" name="password" type="password" placeholder="password" autocomplete="current-password" required>
      <button class="primary" type="submit" id="login-submit">Log in</button>
      <div class="error" id="login-error"></div>
      <p>No account? <a href="#/register" id="to-register">Register</a></p>
    </form></div>`;
  $('login-form').onsubmit = async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/users/login', { username: $('login-username').value, password: $('login-password').value });
      await refreshMe();
      go('#/dashboard');
    } catch (err) { $('login-error').textContent = err.message; }
  };
}

function registerPage() {
  app.innerHTML = `<div class="card"><h2>Register</h2>
    <form class="auth" id="register-form">
      <input id="reg-username" placeholder="username (3–32: letters, digits, _ . -)" autocomplete="username" required>
      <input id="reg-email" type="email" placeholder="email (optional)">
      <input id="reg-password" type="password" placeholder="password (8+ characters)" autocomplete="new-password" required>
      <button class="primary" type="submit" id="register-submit">Create account</button>
      <div class="error" id="register-error"></div>
      <p>Have an account? <a href="#/login">Log in</a></p>
    </form></div>`;
  $('register-form').onsubmit = async (e) => {
    e.preventDefault();
    try {
      const body = { username: $('reg-username').value, password: $('reg-password').value };
      if ($('reg-email').value) body.email = $('reg-email').value;
      await api('POST', '/users/register', body);
      go('#/login');
    } catch (err) { $('register-error').textContent = err.message; }
  };
}

// ---- dashboard / history -------------------------------------------------------------

function sessionRows(items) {
  if (!items.length) return '<tr><td colspan="9">No sessions yet.</td></tr>';
  return items.map(s => {
    const r = s.report || {};
    const a = r.session_report || {};
    return `<tr data-session="${esc(s.id)}">
      <td>${esc(when(s.started_at_ms))}</td><td>${esc(s.status)}</td><td>${secs(r.duration)}</td>
      <td>${secs(r.focus_time)}</td><td>${secs(r.distraction_time)}</td><td>${secs(a.reading_time)}</td>
      <td>${secs(a.browsing_time)}</td><td>${secs(a.watching_time)}</td>
      <td><a href="#/report/${encodeURIComponent(s.id)}">report</a></td></tr>`;
  }).join('');
}
const TABLE_HEAD = `<tr><th>Started</th><th>Status</th><th>Duration</th><th>Focus</th><th>Distracted</th>
  <th>Reading</th><th>Browsing</th><th>Watching</th><th></th></tr>`;

async function dashboardPage() {
  app.innerHTML = `<div class="card"><h2>Welcome, ${esc(me.username)}</h2>
      <p><button class="primary" id="new-session-btn">Start a new session</button>
      <a href="#/calibrate" class="button" id="calibrate-btn">Calibrate (9 points)</a></p>
      <p id="calib-state"></p></div>
    <div class="card"><h3>Recent sessions</h3><table id="sessions-table">${TABLE_HEAD}<tbody id="sessions-body"><tr><td>Loading…</td></tr></tbody></table>
    <p><a href="#/history">All sessions →</a></p></div>`;
  $('new-session-btn').onclick = () => go('#/session');
  try {
    const page = await api('GET', '/sessions?limit=10');
    $('sessions-body').innerHTML = sessionRows(page.items);
  } catch (err) { $('sessions-body').innerHTML = `<tr><td class="error">${esc(err.message)}</td></tr>`; }
  api('GET', '/calibration').then(
    () => { $('calib-state').textContent = 'A calibration is stored: sessions map gaze to screen points.'; },
    () => { $('calib-state').textContent = 'Not calibrated: gaze is mapped to the screen from raw ratios.'; });
}

async function historyPage() {
  app.innerHTML = `<div class="card"><h2>History</h2><table>${TABLE_HEAD}<tbody id="history-body"></tbody></table>
    <p><button class="primary" id="more-btn" hidden>Load more</button></p></div>`;
  let cursor = null;
  const load = async () => {
    const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page = await api('GET', `/sessions?limit=20${q}`);
    $('history-body').insertAdjacentHTML('beforeend', sessionRows(page.items));
    cursor = page.next_cursor;
    $('more-btn').hidden = !cursor;
  };
  $('more-btn').onclick = load;
  try { await load(); } catch (err) { $('history-body').innerHTML = `<tr><td class="error">${esc(err.message)}</td></tr>`; }
  app.insertAdjacentHTML('beforeend', `<div class="card" id="labels-card"><h3>Your labels</h3>
    <p class="muted">Relabel a stretch on a past session's report; your next sessions use a model adapted to your labels.</p>
    <p id="adaptation"></p><table id="label-table"></table><p class="note" id="label-msg"></p></div>`);
  const refresh = async () => showLabels(await api('GET', '/labels'), true, refresh);
  try { await refresh(); } catch (err) { $('label-msg').textContent = err.message; }
}

// ---- labels (per-user adaptation) -----------------------------------------------------

const LABEL_CLASSES = ['reading', 'browsing', 'watching'];

function adaptationText(ad) {
  if (!ad) return 'No adaptation: your sessions use the standard activity model.';
  const b = ad.class_bias.map((v, i) => `${LABEL_CLASSES[i]} ${v >= 0 ? '+' : ''}${v.toFixed(2)}`).join(', ');
  return `Adapted from ${ad.labels} label(s), ${secs(ad.labelled_seconds)} of samples: class offsets ${b}.`;
}

// Fills #label-table and #adaptation from a LabelList; delete buttons call `refresh` after.
function showLabels(list, withSession, refresh) {
  $('adaptation').textContent = adaptationText(list.adaptation);
  const head = `<tr>${withSession ? '<th>Session</th>' : ''}<th>From</th><th>To</th><th>Label</th><th>Made</th><th></th></tr>`;
  const rows = list.items.map(l => `<tr data-label="${esc(l.id)}">
      ${withSession ? `<td><a href="#/report/${encodeURIComponent(l.session_id)}">${esc(l.session_id.slice(-6))}</a></td>` : ''}
      <td>${secs(l.start_s)}</td><td>${secs(l.end_s)}</td><td><span class="pill">${esc(l.label)}</span></td>
      <td>${esc(when(l.created_at_ms))}</td>
      <td><button class="danger small label-del" data-id="${esc(l.id)}">Delete</button></td></tr>`).join('');
  $('label-table').innerHTML = head + (rows || `<tr><td colspan="6">No labels yet.</td></tr>`);
  $('label-table').querySelectorAll('.label-del').forEach((b) => {
    b.onclick = async () => {
      b.disabled = true;
      try {
        const r = await api('DELETE', '/labels/' + encodeURIComponent(b.dataset.id));
        $('label-msg').textContent = r.note && !r.adaptation ? 'Label deleted. ' + r.note : 'Label deleted.';
        await refresh();
      } catch (err) { $('label-msg').textContent = err.message; b.disabled = false; }
    };
  });
}

// The relabel card of an ended session's report: drag on the timeline (or type the range),
// pick a label, save; lists this session's labels.
function relabel(s, r) {
  const canvas = $('timeline');
  const duration = Number(r.duration) || 0;
  const sel = { a: null, b: null };
  const toSec = (ev) => {
    const rect = canvas.getBoundingClientRect();
    const x0 = 70, width = rect.width - x0 - 4;
    const f = Math.min(1, Math.max(0, (ev.clientX - rect.left - x0) / width));
    return Math.round(f * duration * 10) / 10;
  };
  const paint = () => {
    drawTimeline(canvas, r);
    const a = Number($('label-start').value), b = Number($('label-end').value);
    if (!(b > a) || !duration) return;
    const ctx = canvas.getContext('2d');
    const w = canvas.clientWidth, x0 = 70, width = w - x0 - 4;
    ctx.fillStyle = 'rgba(255, 204, 51, .35)'; ctx.strokeStyle = '#c79a00';
    const xa = x0 + a / duration * width, xb = x0 + Math.min(b, duration) / duration * width;
    ctx.fillRect(xa, 4, xb - xa, 72); ctx.strokeRect(xa, 4, xb - xa, 72);
  };
  canvas.classList.add('selectable');
  canvas.onpointerdown = (ev) => { sel.a = toSec(ev); sel.b = null; canvas.setPointerCapture(ev.pointerId); };
  canvas.onpointermove = (ev) => {
    if (sel.a === null) return;
    sel.b = toSec(ev);
    $('label-start').value = Math.min(sel.a, sel.b); $('label-end').value = Math.max(sel.a, sel.b);
    paint();
  };
  canvas.onpointerup = () => { sel.a = null; };
  $('label-start').oninput = paint; $('label-end').oninput = paint;
  const refresh = async () => showLabels(await api('GET', `/session/${encodeURIComponent(s.id)}/labels`), false, refresh);
  $('label-form').onsubmit = async (ev) => {
    ev.preventDefault();
    $('label-save').disabled = true;
    $('label-msg').textContent = 'Saving and refitting your model…';
    try {
      const body = { start_s: Number($('label-start').value), end_s: Number($('label-end').value), label: $('label-kind').value };
      const res = await api('POST', `/session/${encodeURIComponent(s.id)}/labels`, body);
      $('label-msg').textContent = res.adaptation
        ? `Saved: ${secs(body.start_s)}–${secs(body.end_s)} was ${res.label.label}. Your next sessions use the adapted model.`
        : `Saved. No adaptation yet: ${res.note || 'too little labelled data'}.`;
      await refresh();
    } catch (err) { $('label-msg').textContent = err.message; }
    $('label-save').disabled = false;
  };
  refresh().catch((err) => { $('label-msg').textContent = err.message; });
}

// ---- camera helpers ------------------------------------------------------------------

async function openCamera(video) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  await video.play();
  return stream;
}
function stopCamera(stream) { if (stream) stream.getTracks().forEach(t => t.stop()); }
function grab(video, canvas) {
  canvas.width = video.videoWidth || 640;
  canvas.height = video.videoHeight || 480;
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
}

// ---- live session ---------------------------------------------------------------------

async function sessionPage() {
  app.innerHTML = `<div class="live">
    <div><div class="stage"><video id="video" autoplay muted playsinline></video><canvas id="overlay" width="640" height="480"></canvas></div>
      <p><button class="danger" id="end-btn" disabled>End session</button> <span class="error" id="live-error"></span></p></div>
    <div class="card"><h3>Live <span id="conn-state" class="pill">connecting…</span></h3>
      <dl class="labels">
        <dt>Face</dt><dd id="face-state">—</dd>
        <dt>Direction</dt><dd id="direction">—</dd>
        <dt>Activity</dt><dd><span id="activity" class="pill">—</span></dd>
        <dt>Attention</dt><dd><span id="attention" class="pill">—</span></dd>
        <dt>Frames</dt><dd id="frames">0</dd>
        <dt>Rate</dt><dd id="fps">—</dd>
        <dt>Duration</dt><dd id="t-duration">0.0 s</dd>
        <dt>Focus</dt><dd id="t-focus">0.0 s</dd>
        <dt>Distracted</dt><dd id="t-distraction">0.0 s</dd>
        <dt>Reading</dt><dd id="t-reading">0.0 s</dd>
        <dt>Browsing</dt><dd id="t-browsing">0.0 s</dd>
        <dt>Watching</dt><dd id="t-watching">0.0 s</dd>
        <dt>Blinks</dt><dd id="t-blinks">0</dd>
      </dl>
      <div class="screen-map" title="gaze on screen"><div class="dot" id="screen-dot"></div></div>
      <p id="session-id" class="muted"></p>
    </div></div>`;
  const video = $('video'), overlay = $('overlay'), grabCanvas = document.createElement('canvas');
  const stats = window.gazeStats = { updates: 0, faceUpdates: 0, firstFaceAt: 0, lastFaceAt: 0, errors: 0, sessionId: null, last: null };
  let stream = null, ws = null, timer = null, ended = false, sessionId = null;
  cleanup = () => { ended = true; clearInterval(timer); if (ws) ws.close(); stopCamera(stream); };
  const fail = (msg) => { $('live-error').textContent = msg; };

  try { stream = await openCamera(video); } catch (err) { return fail('Camera unavailable: ' + err.message); }
  let started;
  try {
    started = await api('POST', '/session/start', { source: 'webcam', screen_width: innerWidth, screen_height: innerHeight });
  } catch (err) { stopCamera(stream); return fail(err.message); }
  sessionId = stats.sessionId = started.session_id;
  $('session-id').textContent = 'Session ' + sessionId;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const times = [];
  // The socket reconnects with backoff (0.25 s doubling to 5 s) and resumes the same session:
  // any server instance takes it over (behind a balancer) from its last checkpoint and says
  // where the accounting resumed ({"event": "resumed"}). 1000 (ended) and 1008 (refused)
  // are final.
  let attempt = 0, retry = null;
  const state = (text, cls) => { $('conn-state').textContent = text; $('conn-state').className = 'pill ' + (cls || ''); };
  const connect = () => {
    retry = null;
    ws = new WebSocket(`${proto}//${location.host}${started.track_url}`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      attempt = 0;
      stats.connects = (stats.connects || 0) + 1;
      state('streaming');
      $('live-error').textContent = '';
      $('end-btn').disabled = false;
      clearInterval(timer);
      // 12 frames per second; skip a tick when the socket is still busy sending.
      timer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > 256 * 1024 || !video.videoWidth) return;
        grab(video, grabCanvas);
        grabCanvas.toBlob(b => { if (b && ws.readyState === WebSocket.OPEN) ws.send(b); }, 'image/jpeg', 0.75);
      }, 1000 / 12);
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (_) { return; }
      if (m.error) { stats.errors++; fail(m.error); return; }
      if (m.event === 'ended') { ended = true; go('#/report/' + encodeURIComponent(sessionId)); return; }
      if (m.event === 'resumed') { stats.resumed = m; return; }
      stats.updates++;
      stats.last = m;
      const now = performance.now();
      times.push(now); while (times.length && now - times[0] > 2000) times.shift();
      if (m.face) { stats.faceUpdates++; if (!stats.firstFaceAt) stats.firstFaceAt = Date.now(); stats.lastFaceAt = Date.now(); }
      render(m, times.length / 2);
    };
    ws.onclose = (ev) => {
      clearInterval(timer);
      if (ended || ev.code === 1000) { state('closed'); return; }
      if (ev.code === 1008) { state('closed'); fail(`connection refused (${ev.reason || ev.code})`); return; }
      stats.reconnects = (stats.reconnects || 0) + 1;
      state('reconnecting…', 'reconnecting');
      const delay = Math.min(5000, 250 * 2 ** attempt);
      attempt++;
      retry = setTimeout(connect, delay);
    };
  };
  cleanup = () => { ended = true; clearInterval(timer); clearTimeout(retry); if (ws) ws.close(); stopCamera(stream); };
  connect();
  $('end-btn').onclick = async () => {
    $('end-btn').disabled = true;
    ended = true;
    clearInterval(timer);
    try {
      await api('POST', '/session/end', { session_id: sessionId });
      go('#/report/' + encodeURIComponent(sessionId));
    } catch (err) { fail(err.message); $('end-btn').disabled = false; }
  };

  function render(m, fps) {
    const t = m.totals || {};
    $('face-state').textContent = m.face ? 'face' : 'no face';
    $('direction').textContent = m.direction || '—';
    $('activity').textContent = m.activity; $('activity').className = 'pill';
    $('attention').textContent = m.attention; $('attention').className = 'pill ' + m.attention;
    $('frames').textContent = stats.updates;
    $('fps').textContent = fps.toFixed(1) + ' fps, ' + (m.processing_ms || 0).toFixed(0) + ' ms/frame';
    $('t-duration').textContent = secs(t.duration);
    $('t-focus').textContent = secs(t.focus_time);
    $('t-distraction').textContent = secs(t.distraction_time);
    $('t-reading').textContent = secs(t.reading_time);
    $('t-browsing').textContent = secs(t.browsing_time);
    $('t-watching').textContent = secs(t.watching_time);
    $('t-blinks').textContent = t.blink_count ?? 0;
    const ctx = overlay.getContext('2d');
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const sx = overlay.width / (m.width || 640), sy = overlay.height / (m.height || 480);
    if (m.face) {
      ctx.strokeStyle = '#35e06a'; ctx.lineWidth = 2;
      ctx.strokeRect(m.face.x * sx, m.face.y * sy, m.face.w * sx, m.face.h * sy);
    }
    const eyes = m.gaze && m.gaze.eyes;
    const pts = eyes ? [eyes.left, eyes.right].filter(Boolean) : [];
    ctx.fillStyle = '#22d3ee';
    for (const p of pts) { ctx.beginPath(); ctx.arc(p.x * sx, p.y * sy, 3.5, 0, 2 * Math.PI); ctx.fill(); }
    if (m.gaze && pts.length) {
      const cx = pts.reduce((a, p) => a + p.x, 0) / pts.length * sx;
      const cy = pts.reduce((a, p) => a + p.y, 0) / pts.length * sy;
      const ex = cx + m.gaze.horizontal * 90, ey = cy + m.gaze.vertical * 90;
      ctx.strokeStyle = '#ffcc33'; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(ex, ey); ctx.stroke();
      const a = Math.atan2(ey - cy, ex - cx);
      ctx.beginPath(); ctx.moveTo(ex, ey);
      ctx.lineTo(ex - 10 * Math.cos(a - 0.5), ey - 10 * Math.sin(a - 0.5));
      ctx.lineTo(ex - 10 * Math.cos(a + 0.5), ey - 10 * Math.sin(a + 0.5));
      ctx.closePath(); ctx.fillStyle = '#ffcc33'; ctx.fill();
    }
    const dot = $('screen-dot');
    if (m.screen) {
      dot.style.display = 'block';
      // Calibrated points are in the calibration page's viewport pixels.
      dot.style.left = Math.max(0, Math.min(100, m.screen.x / innerWidth * 100)) + '%';
      dot.style.top = Math.max(0, Math.min(100, m.screen.y / innerHeight * 100)) + '%';
    } else if (m.gaze) {
      dot.style.display = 'block';
      dot.style.left = ((1 - m.gaze.horizontal) * 50) + '%';
      dot.style.top = ((1 + m.gaze.vertical) * 50) + '%';
    } else { dot.style.display = 'none'; }
  }
}

// ---- calibration ----------------------------------------------------------------------

async function calibratePage() {
  app.innerHTML = `<div class="card"><h2>9-point calibration</h2>
    <p>Sit as you normally do. A dot appears at nine places; look at each dot until it moves.</p>
    <video id="cal-video" autoplay muted playsinline width="320" height="240"></video>
    <p><button class="primary" id="cal-start">Start</button></p>
    <p id="cal-result"></p><div class="error" id="cal-error"></div></div>`;
  let stream = null, layer = null, cancelled = false;
  cleanup = () => { cancelled = true; stopCamera(stream); if (layer) layer.remove(); };
  const video = $('cal-video'), canvas = document.createElement('canvas');
  try { stream = await openCamera(video); } catch (err) { $('cal-error').textContent = 'Camera unavailable: ' + err.message; return; }
  $('cal-start').onclick = async () => {
    $('cal-start').disabled = true;
    $('cal-error').textContent = '';
    const sleep = (ms) => new Promise(r => setTimeout(r, ms));
    try {
      const run = await api('POST', '/calibration/start', { screen_width: innerWidth, screen_height: innerHeight });
      layer = document.createElement('div');
      layer.className = 'calib-layer';
      layer.innerHTML = '<div class="calib-dot" id="cal-dot"></div><div class="calib-msg" id="cal-msg"></div>';
      document.body.appendChild(layer);
      let accepted = 0;
      for (let i = 0; i < run.points.length && !cancelled; i++) {
        const p = run.points[i];
        const dot = $('cal-dot');
        dot.style.left = p.x + 'px'; dot.style.top = p.y + 'px';
        $('cal-msg').textContent = `${i + 1} / ${run.points.length}`;
        await sleep(900);
        const frames = [];
        for (let k = 0; k < 5; k++) { grab(video, canvas); frames.push(canvas.toDataURL('image/jpeg', 0.8)); await sleep(100); }
        const r = await api('POST', '/calibration/point', { calibration_id: run.calibration_id, target: p, frames });
        if (r.accepted) accepted++;
      }
      layer.remove(); layer = null;
      const done = await api('POST', '/calibration/complete', { calibration_id: run.calibration_id });
      $('cal-result').textContent = `Calibration stored from ${done.samples} of ${run.points.length} points (${accepted} with a face).`;
    } catch (err) {
      if (layer) { layer.remove(); layer = null; }
      $('cal-error').textContent = err.message;
    }
    $('cal-start').disabled = false;
  };
}

// ---- report ---------------------------------------------------------------------------

function drawTimeline(canvas, report) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 900, h = canvas.clientHeight || 110;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const ctx = canvas.getContext('2d');
  ctx.scale(dpr, dpr);
  ctx.clearRect(0, 0, w, h);
  const segs = report.timeline || [];
  const t0 = segs.length ? segs[0].start_ms : report.started_at;
  const t1 = segs.length ? segs[segs.length - 1].end_ms : report.ended_at;
  const span = Math.max(1, t1 - t0);
  ctx.font = '12px system-ui'; ctx.fillStyle = '#5b6577';
  ctx.fillText('activity', 0, 22); ctx.fillText('attention', 0, 62);
  const x0 = 70, width = w - x0 - 4;
  for (const s of segs) {
    const x = x0 + (s.start_ms - t0) / span * width, sw = Math.max(1, (s.end_ms - s.start_ms) / span * width);
    ctx.fillStyle = COLORS[s.activity] || '#ccc'; ctx.fillRect(x, 8, sw, 24);
    ctx.fillStyle = COLORS[s.attention] || '#ccc'; ctx.fillRect(x, 48, sw, 24);
  }
  ctx.fillStyle = '#5b6577';
  ctx.fillText('0 s', x0, 92);
  const end = (span / 1000).toFixed(1) + ' s';
  ctx.fillText(end, w - ctx.measureText(end).width - 4, 92);
}

async function reportPage(args) {
  const id = decodeURIComponent(args[0] || '');
  app.innerHTML = '<div class="card"><p>Loading report…</p></div>';
  let s;
  try { s = await api('GET', '/session/' + encodeURIComponent(id)); } catch (err) {
    app.innerHTML = `<div class="card error">${esc(err.message)}</div>`; return;
  }
  const r = s.report || {};
  const a = r.session_report || {};
  const box = (key, label, v, unit = 's') =>
    `<div><span>${label}</span><b id="r-${key}" data-value="${Number(v) || 0}">${unit === 's' ? secs(v) : esc(v)}</b></div>`;
  app.innerHTML = `<div class="card" id="report"><h2>Session report</h2>
      <p>Session <code>${esc(s.id)}</code> · ${esc(s.status)} · started ${esc(when(s.started_at_ms))}</p>
      <div class="totals">
        ${box('duration', 'Duration', r.duration)}
        ${box('focus', 'Focused', r.focus_time)}
        ${box('distraction', 'Distracted', r.distraction_time)}
        ${box('no-data', 'No data', r.no_data_time)}
        ${box('reading', 'Reading', a.reading_time)}
        ${box('browsing', 'Browsing', a.browsing_time)}
        ${box('watching', 'Watching', a.watching_time)}
        ${box('other', 'Other (focused)', r.other_time)}
        ${box('blinks', 'Blinks', r.blink_count ?? 0, '')}
        ${box('blink-rate', 'Blinks / min', (Number(r.blink_rate_per_min) || 0).toFixed(1), '')}
        ${box('fixations', 'Fixations', r.fixation_count ?? 0, '')}
      </div></div>
    <div class="card"><h3>Timeline</h3><canvas class="timeline" id="timeline"></canvas>
      <div class="legend">${['reading', 'browsing', 'watching', 'other', 'focused', 'distracted', 'no_data']
        .map(k => `<span><i data-color="${k}"></i>${k.replace('_', ' ')}</span>`).join('')}</div></div>
    <div class="card"><h3>Charts</h3>
      <img class="report-chart" id="report-chart" src="/session/${encodeURIComponent(s.id)}/report.svg"
        alt="Charts: activity and attention over time, time per activity, where the gaze rested, blink rate over time"></div>
    <div class="card exports">${['pdf', 'svg', 'csv', 'json'].map((k) =>
      `<a class="button" id="export-${k}" download href="/session/${encodeURIComponent(s.id)}/report.${k}">Download ${k.toUpperCase()}</a>`).join(' ')}
      <a href="#/dashboard">Back to dashboard</a></div>
    ${s.status === 'ended' && me && s.owner === me.id ? `<div class="card" id="labels-card"><h3>Relabel</h3>
      <p class="muted">Drag across the timeline (or type the range) and say what you were doing; your next sessions use a model adapted to your labels.</p>
      <form id="label-form" class="relabel">
        <label>From <input id="label-start" type="number" min="0" step="0.1" value="0" required> s</label>
        <label>to <input id="label-end" type="number" min="0" step="0.1" value="${(Number(r.duration) || 0).toFixed(1)}" required> s</label>
        <label>was <select id="label-kind">${LABEL_CLASSES.map(k => `<option value="${k}">${k}</option>`).join('')}</select></label>
        <button class="primary" id="label-save" type="submit">Save label</button>
      </form>
      <p class="note" id="label-msg"></p><p id="adaptation"></p><table id="label-table"></table></div>` : ''}`;
  // Colours through the CSSOM: the CSP (style-src 'self') blocks inline style attributes.
  app.querySelectorAll('.legend i[data-color]').forEach((i) => { i.style.background = COLORS[i.dataset.color]; });
  drawTimeline($('timeline'), r);
  if ($('label-form')) relabel(s, r);
}

// ---- boot -----------------------------------------------------------------------------

$('logout-btn').onclick = async () => {
  try { await api('POST', '/users/logout'); } catch (_) { }
  me = null; $('nav').hidden = true; go('#/login');
};
window.addEventListener('hashchange', route);
refreshMe().then(route);
