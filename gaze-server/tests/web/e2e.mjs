// Browser end-to-end test of the gaze web UI.
//
// Starts gaze-server (with its own local redis-server on a free port), launches headless
// Debian Chromium through playwright-core with a fake webcam fed from the committed webcam
// clip (converted to y4m with ffmpeg here), then: register → log in → start a session →
// live gaze updates with a face for ≥ 5 s → end → report whose times are non-zero and sum
// to the session length → relabel a dragged stretch of its timeline, delete the label from
// the history page. The UI runs under its Content-Security-Policy: any violation fails.
// Screenshots go to artifacts/web/.
//
// Env: GAZE_SERVER_BIN (default target/debug/gaze-server), CHROMIUM (default
// /usr/bin/chromium), GAZE_ARTIFACTS (default artifacts/web).
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const serverBin = process.env.GAZE_SERVER_BIN || path.join(root, 'target/debug/gaze-server');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.GAZE_ARTIFACTS || path.join(root, 'artifacts/web');
const clip = path.join(root, 'testdata/webcam/webcam_cap12_t18-28s_640x480_25fps.mp4');

fs.mkdirSync(artifacts, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gaze-e2e-'));
const t0 = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function check(cond, msg) { if (!cond) throw new Error('check failed: ' + msg); }
// page.waitForFunction evaluates its predicate with eval in the page, which the UI's CSP
// (no 'unsafe-eval') forbids; page.evaluate goes through DevTools and is not subject to it.
async function waitForPage(page, fn, arg, { timeout = 30000, polling = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg).catch(() => false)) return;
    if (Date.now() > end) throw new Error(`waitForPage timed out after ${timeout} ms: ${fn}`);
    await sleep(polling);
  }
}

let server = null, browser = null, serverExit = null;
async function main() {
  check(fs.existsSync(serverBin), `server binary ${serverBin} (cargo build -p gaze-server)`);
  check(fs.existsSync(chromiumPath), `chromium at ${chromiumPath} (scripts/setup.sh test)`);
  // 1. Fake webcam: 10 s of the real clip at 15 fps (Chromium loops it).
  const y4m = path.join(tmp, 'clip.y4m');
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', clip, '-t', '10', '-vf', 'fps=15',
    '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', y4m]);
  log('fake webcam', y4m, (fs.statSync(y4m).size / 1e6).toFixed(1), 'MB');

  // 2. Server with its own redis-server (AOF) on free ports.
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serverLog = fs.createWriteStream(path.join(artifacts, 'server.log'));
  server = spawn(serverBin, ['--bind', `127.0.0.1:${port}`, '--data-dir', path.join(tmp, 'redis'),
    '--redis-port', '0', '--insecure-fast-hash', '--reconnect-grace-secs', '2'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GAZE_LOG: 'info' } });
  server.stdout.pipe(serverLog); server.stderr.pipe(serverLog);
  serverExit = new Promise((r) => server.on('exit', (code, sig) => r({ code, sig })));
  for (let i = 0; ; i++) {
    try { const r = await fetch(base + '/health'); if (r.ok) break; } catch (_) { }
    check(i < 600 && server.exitCode === null, 'server did not become healthy (see artifacts/web/server.log)');
    await sleep(100);
  }
  log('server up at', base);

  // 3. Headless Chromium with the fake webcam.
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['camera'], { origin: base });
  const page = await context.newPage();
  const offsite = [];
  page.on('request', (req) => { const u = new URL(req.url()); if (!['127.0.0.1', ''].includes(u.hostname) && u.protocol !== 'data:' && u.protocol !== 'blob:') offsite.push(req.url()); });
  page.on('console', (m) => { if (m.type() === 'error') log('browser console:', m.text()); });
  // The UI must work under its Content-Security-Policy: any violation (reported by the
  // securitypolicyviolation event or Chromium's console message) fails the test.
  const cspViolations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  await context.exposeBinding('__gazeCsp', (src, v) => cspViolations.push(`${src.frame.url()}: ${v}`));
  await context.addInitScript(() => document.addEventListener('securitypolicyviolation',
    (e) => window.__gazeCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`)));
  page.setDefaultTimeout(30000);

  // Register and log in.
  const user = 'e2e_' + Date.now().toString(36);
  const home = await page.goto(base + '/');
  const csp = home.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'") && !csp.includes('unsafe-inline'),
    'strict CSP on the web UI: ' + csp);
  await page.waitForSelector('#login-form');
  await page.click('#to-register');
  await page.fill('#reg-username', user);
  await page.fill('#reg-password', 'correct horse battery');
  await page.click('#register-submit');
  await page.waitForSelector('#login-form');
  await page.fill('#login-username', user);
  await page.fill('#login-password', 'correct horse battery');
  await page.click('#login-submit');
  await page.waitForSelector('#new-session-btn');
  log('registered and logged in as', user);

  // Start a session and watch live updates.
  await page.click('#new-session-btn');
  await waitForPage(page, () => window.gazeStats && window.gazeStats.faceUpdates > 0, null, { timeout: 45000 });
  log('first face update');
  await waitForPage(page, () => {
    const s = window.gazeStats;
    return s.lastFaceAt - s.firstFaceAt >= 5500 && Date.now() - s.lastFaceAt < 1000;
  }, null, { timeout: 45000, polling: 200 });
  const stats = await page.evaluate(() => ({ ...window.gazeStats, last: undefined }));
  const faceText = await page.textContent('#face-state');
  const last = await page.evaluate(() => window.gazeStats.last);
  log('live:', JSON.stringify({ updates: stats.updates, faceUpdates: stats.faceUpdates, errors: stats.errors,
    faceSpanS: (stats.lastFaceAt - stats.firstFaceAt) / 1000, face: faceText, activity: last.activity,
    attention: last.attention, duration: last.totals.duration }));
  check(faceText === 'face', 'face shown in the live view');
  check(stats.faceUpdates / stats.updates > 0.8, 'a face in > 80 % of updates');
  check(last.gaze && last.gaze.eyes && last.face && typeof last.gaze.horizontal === 'number', 'original gaze/face shape');
  check(['reading', 'browsing', 'watching', 'other', 'none'].includes(last.activity), 'activity label');
  await page.screenshot({ path: path.join(artifacts, 'live.png') });

  // End and read the report.
  await page.click('#end-btn');
  await page.waitForSelector('#report', { timeout: 30000 });
  await page.waitForTimeout(300);
  const val = async (id) => Number(await page.getAttribute('#r-' + id, 'data-value'));
  const r = {};
  for (const k of ['duration', 'focus', 'distraction', 'no-data', 'reading', 'browsing', 'watching', 'other']) r[k] = await val(k);
  log('report:', JSON.stringify(r));
  await page.screenshot({ path: path.join(artifacts, 'report.png'), fullPage: true });
  check(r.duration >= 5, `session length ${r.duration} s ≥ 5 s`);
  check(r.focus > 0, 'focused time non-zero');
  const sum = r.focus + r.distraction + r['no-data'];
  check(Math.abs(sum - r.duration) <= 0.01 * r.duration + 0.05, `focus + distraction + no data = ${sum} ≈ duration ${r.duration}`);
  // The clip is a person talking to the camera, not reading (issue 12: it used to get
  // 2.4 s of 5.9 s "reading").
  check(r.reading < 0.1 * r.duration, `reading ${r.reading} s < 10 % of ${r.duration} s (talking to the camera)`);
  const act = r.reading + r.browsing + r.watching + r.other;
  check(Math.abs(act - r.focus) <= 0.01 * r.focus + 0.05, `activities sum ${act} ≈ focus ${r.focus}`);

  // Report exports: the SVG charts load inline, and every download link answers with its type.
  await waitForPage(page, () => {
    const i = document.getElementById('report-chart');
    return i && i.complete && i.naturalWidth > 0;
  }, null, { timeout: 30000, polling: 250 });
  const exports = await page.evaluate(async () => Promise.all(['json', 'csv', 'svg', 'pdf'].map(async (k) => {
    const r = await fetch(document.getElementById('export-' + k).href);
    return [k, r.status, r.headers.get('content-type')];
  })));
  log('exports:', JSON.stringify(exports));
  check(exports.every(([, st]) => st === 200), 'report export links answer 200');
  check(exports[3][2] === 'application/pdf' && exports[2][2] === 'image/svg+xml', 'PDF and SVG exports have their content types');

  // The report's session is the one we streamed, and is ended.
  const api = await page.evaluate(async (id) => (await fetch('/session/' + id)).json(), stats.sessionId);
  check(api.status === 'ended' && api.report && api.report.timeline.length > 0, 'session ended with a timeline');

  // Relabel: drag across the report's timeline, call it "watching", save; the label is
  // listed on the report and on the history page, where it is deleted again.
  await page.waitForSelector('#label-form');
  const box = await page.locator('#timeline').boundingBox();
  const xAt = (f) => box.x + 70 + f * (box.width - 74);
  await page.mouse.move(xAt(0.1), box.y + 30);
  await page.mouse.down();
  await page.mouse.move(xAt(0.5), box.y + 30, { steps: 4 });
  await page.mouse.move(xAt(0.9), box.y + 30, { steps: 4 });
  await page.mouse.up();
  const sel = [Number(await page.inputValue('#label-start')), Number(await page.inputValue('#label-end'))];
  log('timeline selection:', JSON.stringify(sel));
  check(sel[0] > 0 && sel[1] > sel[0] && sel[1] <= r.duration + 0.1 &&
    Math.abs(sel[1] - sel[0] - 0.8 * r.duration) < 0.1 * r.duration + 0.2, `dragged 10 %–90 % of the timeline: ${sel}`);
  await page.selectOption('#label-kind', 'watching');
  await page.click('#label-save');
  await page.waitForSelector('#label-table tr[data-label]');
  const labelMsg = await page.textContent('#label-msg');
  log('relabel:', labelMsg, '|', await page.textContent('#adaptation'));
  check(labelMsg.startsWith('Saved'), 'label saved: ' + labelMsg);
  const mine = await page.evaluate(async () => (await fetch('/labels')).json());
  check(mine.items.length === 1 && mine.items[0].label === 'watching' && mine.items[0].session_id === stats.sessionId &&
    Math.abs(mine.items[0].start_s - sel[0]) < 1e-6 && Math.abs(mine.items[0].end_s - sel[1]) < 1e-6,
    'the label is stored as selected: ' + JSON.stringify(mine.items));
  await page.screenshot({ path: path.join(artifacts, 'relabel.png'), fullPage: true });
  await page.goto(base + '/#/history');
  await page.waitForSelector('#label-table tr[data-label]');
  await page.click('#label-table .label-del');
  await waitForPage(page, () => !document.querySelector('#label-table tr[data-label]') &&
    document.getElementById('label-msg').textContent.startsWith('Label deleted'), null, { timeout: 15000 });
  const left = await page.evaluate(async () => (await fetch('/labels')).json());
  check(left.items.length === 0 && left.adaptation === null, 'label deleted, no adaptation left');
  log('label deleted from the history page');

  // 9-point calibration through the UI (the fake webcam's face looks at every target).
  await page.goto(base + '/#/calibrate');
  await page.waitForSelector('#cal-start:not([disabled])');
  await page.waitForTimeout(500);
  await page.click('#cal-start');
  await waitForPage(page, () => {
    const r = document.getElementById('cal-result'), e = document.getElementById('cal-error');
    return (r && r.textContent.includes('Calibration stored')) || (e && e.textContent);
  }, null, { timeout: 60000, polling: 250 });
  const calErr = await page.textContent('#cal-error');
  check(!calErr, 'calibration error: ' + calErr);
  log('calibration:', await page.textContent('#cal-result'));
  const cal = await page.evaluate(async () => (await fetch('/calibration')).status);
  check(cal === 200, 'calibration stored');

  // A new session now maps gaze to screen points with that calibration.
  await page.goto(base + '/#/session');
  await waitForPage(page, () => window.gazeStats && window.gazeStats.last && window.gazeStats.last.screen,
    null, { timeout: 30000 });
  const screenPt = await page.evaluate(() => window.gazeStats.last.screen);
  log('calibrated screen point:', JSON.stringify(screenPt));
  await page.screenshot({ path: path.join(artifacts, 'live-calibrated.png') });
  await page.click('#end-btn');
  await page.waitForSelector('#report', { timeout: 30000 });

  // Dashboard: both sessions with totals, newest first.
  await page.goto(base + '/#/dashboard');
  await page.waitForSelector('#sessions-body tr[data-session]');
  const rows = await page.$$eval('#sessions-body tr[data-session]', (trs) => trs.map((tr) => tr.dataset.session));
  check(rows.length === 2 && rows[1] === stats.sessionId, 'dashboard lists both sessions, newest first');
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png') });

  // Swagger UI is served offline.
  await page.goto(base + '/docs/');
  await page.waitForSelector('.swagger-ui .info', { timeout: 20000 });
  await page.screenshot({ path: path.join(artifacts, 'docs.png') });
  check(offsite.length === 0, 'no request left 127.0.0.1: ' + offsite.join(', '));
  const uniqueCsp = [...new Set(cspViolations.map((v) => v.slice(0, 160)))];
  check(cspViolations.length === 0, `no CSP violation (${cspViolations.length}): ` + uniqueCsp.slice(0, 6).join(' | '));
  log('PASS');
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error('[e2e] FAIL:', e && e.stack ? e.stack : e);
} finally {
  if (browser) await browser.close().catch(() => { });
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    const exit = await Promise.race([serverExit, sleep(15000).then(() => null)]);
    if (!exit) { server.kill('SIGKILL'); console.error('[e2e] server did not stop in 15 s'); failed = true; }
    else if (exit.code !== 0) { console.error('[e2e] server exited with', exit); failed = true; }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
log('artifacts in', artifacts);
process.exit(failed ? 1 : 0);
