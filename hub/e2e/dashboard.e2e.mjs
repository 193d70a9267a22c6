// The teacher's dashboard end to end. A real `pencil-hub`; a class of simulated
// students, each a real `pencil-lsp` process (its own store, joined with
// `pencil-lsp class join`) driven over stdio LSP, replaying a public trace run
// by run, accepting or dismissing some hints, one raising a hand; the teacher in
// Debian's Chromium (playwright-core) signs in, reads the dashboard, answers the
// hand, and the reply reaches that student's editor. Then a 300-student class
// (filled through the students' HTTP API, no processes) for time to first paint.
//
// Screenshots: target/e2e/hub/. Needs target/debug/pencil-hub and pencil-lsp.
// PENCIL_E2E_STUDENTS sets the class size (default 30).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const artifacts = join(repo, 'target/e2e/hub');
const HUB = process.env.PENCIL_HUB || join(repo, 'target/debug/pencil-hub');
const LSP = process.env.PENCIL_LSP || join(repo, 'target/debug/pencil-lsp');
const CORPUS = join(repo, '../shared/data/public/trace-model.jsonl.gz');
const MODEL = join(repo, 'models/default');
const STUDENTS = Number(process.env.PENCIL_E2E_STUDENTS || 30);
/** Students whose coach loads the model (risk buckets, "Fix in my style"); the rest run without. */
const WITH_MODEL = 4;
const RUNS_PER_STUDENT = 10;
const PASSWORD = 'correct horse battery';
const NAMES = ['Fox', 'Owl', 'Elk', 'Yak', 'Emu', 'Koi', 'Ant', 'Bee', 'Cat', 'Dog', 'Eel', 'Gnu', 'Hen', 'Jay', 'Kit',
  'Lynx', 'Mole', 'Newt', 'Orca', 'Puma', 'Quail', 'Ray', 'Seal', 'Toad', 'Vole', 'Wren', 'Ibis', 'Lark', 'Moth', 'Pike'];

for (const [what, path] of [['pencil-hub', HUB], ['pencil-lsp', LSP], ['the public corpus', CORPUS]]) {
  if (!existsSync(path)) throw new Error(`${what} is missing at ${path} (build with cargo first; ../shared/data beside the repo)`);
}
const chromiumPath = [process.env.CHROMIUM, '/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].filter(Boolean).find((c) => existsSync(c));
if (!chromiumPath) throw new Error('no Chromium: run `bash scripts/setup.sh` (it installs Debian chromium-headless-shell)');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, timeoutMs, check) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------
// The corpus: JSON Lines whose `programs` is a Python literal (list of dicts).

/** Parses the Python literal the corpus stores: lists, dicts, strings, ints. */
function pyLiteral(text) {
  let i = 0;
  const ws = () => { while (/\s/.test(text[i])) i++; };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '[' || c === '{') {
      const close = c === '[' ? ']' : '}';
      const out = c === '[' ? [] : {};
      i++;
      for (;;) {
        ws();
        if (text[i] === close) { i++; return out; }
        const k = value();
        ws();
        if (close === '}') {
          assert.equal(text[i], ':', `corpus literal: ':' expected at ${i}`);
          i++;
          out[k] = value();
        } else {
          out.push(k);
        }
        ws();
        if (text[i] === ',') i++;
      }
    }
    if (c === "'" || c === '"') {
      i++;
      let s = '';
      while (text[i] !== c) {
        if (text[i] === '\\') {
          const e = text[i + 1];
          i += 2;
          const simple = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
          if (e in simple) s += simple[e];
          else if (e === 'x') { s += String.fromCharCode(parseInt(text.substr(i, 2), 16)); i += 2; }
          else if (e === 'u') { s += String.fromCharCode(parseInt(text.substr(i, 4), 16)); i += 4; }
          else if (e === 'U') { s += String.fromCodePoint(parseInt(text.substr(i, 8), 16)); i += 8; }
          else s += '\\' + e;
        } else {
          s += text[i++];
        }
      }
      i++;
      return s;
    }
    const m = /^-?\d+/.exec(text.slice(i, i + 20));
    assert.ok(m, `corpus literal: unexpected ${text.slice(i, i + 20)}`);
    i += m[0].length;
    return Number(m[0]);
  };
  return value();
}

const ORACLE = join(repo, '../shared/data/oracle/labels.jsonl.gz');

/**
 * `count` traces of distinct students over many titles, each cut to at most
 * RUNS_PER_STUDENT states. Half of them are traces in which the real Pencil Code
 * runtime failed a state (the oracle's verdicts), cut so the student meets the
 * failure mid-replay or ends on it, as a class at work does.
 */
function pickTraces(count) {
  const failing = new Set(
    gunzipSync(readFileSync(ORACLE)).toString('utf8').split('\n').filter(Boolean)
      .map((l) => JSON.parse(l)).filter((l) => l.success === false).map((l) => l.code),
  );
  const rows = gunzipSync(readFileSync(CORPUS)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const seen = new Set();
  const withFailure = [];
  const others = [];
  // A fixed stride through the file (sorted by title): the same class every run, many titles.
  const stride = Math.max(1, Math.floor(rows.length / (count * 4)));
  for (let k = 0; k < rows.length; k += 1) {
    const row = rows[(k * stride) % rows.length];
    if (seen.has(row.student)) continue;
    const states = (typeof row.programs === 'string' ? pyLiteral(row.programs) : row.programs).map((p) => p.code);
    if (states.length < 4) continue;
    const f = states.findIndex((code) => failing.has(code));
    if (f >= 0 && withFailure.length < count / 2) {
      seen.add(row.student);
      const end = Math.min(states.length, f + 1 + (withFailure.length % 4));
      withFailure.push({ title: row.title, states: states.slice(Math.max(0, end - RUNS_PER_STUDENT), end) });
    } else if (f < 0 && others.length < count - Math.floor(count / 2)) {
      seen.add(row.student);
      others.push({ title: row.title, states: states.slice(0, RUNS_PER_STUDENT) });
    }
    if (withFailure.length + others.length === count) break;
  }
  const out = [];
  for (let k = 0; k < count; k++) out.push(...(k % 2 ? withFailure.splice(0, 1) : others.splice(0, 1)));
  out.push(...withFailure, ...others);
  assert.equal(out.length, count, 'not enough distinct students in the corpus');
  return out;
}

// ---------------------------------------------------------------------------
// Processes.

async function startHub(dataDir) {
  const child = spawn(HUB, ['--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0', '--idle-after-secs', '600'], {
    env: { PATH: process.env.PATH, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`pencil-hub printed no address in 30 s:\n${out}`)), 30000);
    const take = (chunk) => {
      out += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); ok(m[1]); }
    };
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`pencil-hub exited (${code}):\n${out}`)); });
  });
  const add = spawnSync(HUB, ['--data-dir', dataDir, 'teacher', 'add', '--name', 'ada', '--password-stdin'], { input: `${PASSWORD}\n`, encoding: 'utf8' });
  assert.equal(add.status, 0, add.stderr);
  return { base, stop: () => child.kill('SIGTERM') };
}

/** A minimal LSP client over a child's stdio: requests, notifications, and what the server shows. */
class Lsp {
  constructor(env) {
    this.child = spawn(LSP, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.nextId = 1;
    this.pending = new Map();
    this.messages = [];
    this.stderr = '';
    this.buffer = Buffer.alloc(0);
    this.child.stderr.setEncoding('utf8').on('data', (c) => { this.stderr = (this.stderr + c).slice(-4000); });
    this.child.stdout.on('data', (chunk) => this.read(chunk));
  }

  read(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, headerEnd).toString())[1]);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8'));
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      if (message.method && message.id !== undefined) {
        this.send({ jsonrpc: '2.0', id: message.id, result: null }); // a request from the server
      } else if (message.method) {
        if (message.method === 'window/showMessage') this.messages.push(message.params.message);
      } else if (this.pending.has(message.id)) {
        this.pending.get(message.id)(message);
        this.pending.delete(message.id);
      }
    }
  }

  send(message) {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin.write(body);
  }

  notify(method, params) { this.send({ jsonrpc: '2.0', method, params }); }

  request(method, params, timeoutMs = 60000) {
    const id = this.nextId++;
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`${method}: no answer in ${timeoutMs} ms\n${this.stderr}`)), timeoutMs);
      this.pending.set(id, (m) => {
        clearTimeout(timer);
        if (m.error) fail(new Error(`${method}: ${JSON.stringify(m.error)}`));
        else ok(m.result);
      });
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  async stop() {
    try { await this.request('shutdown', null, 10000); this.notify('exit', null); } catch { /* already gone */ }
    await Promise.race([new Promise((r) => this.child.once('exit', r)), sleep(5000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** One simulated student: joins, then replays a trace through a real coach. */
async function student(i, trace, code, base, scratch) {
  const data = join(scratch, `student-${i}`);
  const home = join(scratch, `home-${i}`);
  mkdirSync(home, { recursive: true });
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    PENCIL_DATA_DIR: data,
    PENCIL_MODEL_DIR: i < WITH_MODEL ? MODEL : '',
    PENCIL_CLASS_SYNC_SECS: '1',
    RUST_LOG: 'warn',
  };
  const name = NAMES[i % NAMES.length] + (i >= NAMES.length ? String(Math.floor(i / NAMES.length) + 1) : '');
  const join_ = spawnSync(LSP, ['class', 'join', code, '--hub', base, '--name', name], { env, encoding: 'utf8' });
  assert.equal(join_.status, 0, join_.stderr + join_.stdout);
  const lsp = new Lsp(env);
  await lsp.request('initialize', { processId: null, rootUri: null, capabilities: {}, initializationOptions: { pencil: { recordOnSave: false } } });
  lsp.notify('initialized', {});
  const uri = `file://${home}/${encodeURIComponent(trace.title)}.coffee`;
  const states = trace.states;
  lsp.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'coffeescript', version: 1, text: states[0] } });
  const statuses = [];
  for (let n = 0; n < states.length; n++) {
    if (n > 0) {
      lsp.notify('textDocument/didChange', { textDocument: { uri, version: n + 1 }, contentChanges: [{ text: states[n] }] });
    }
    const run = await lsp.request('pencil/run', { textDocument: { uri } });
    statuses.push(run.status);
    if (run.status === 'error') {
      // Look at the fixes; accept the first one or dismiss it, by turns across the class.
      const lines = states[n].split('\n').length;
      const actions = await lsp.request('textDocument/codeAction', {
        textDocument: { uri },
        range: { start: { line: 0, character: 0 }, end: { line: lines - 1, character: 0 } },
        context: { diagnostics: [] },
      });
      const hintId = (actions || []).map((a) => a.command?.arguments?.[0]).find((x) => Number.isInteger(x));
      if (hintId !== undefined && (i + n) % 2 === 0) {
        await lsp.request('workspace/executeCommand', { command: 'pencil.acceptFix', arguments: [hintId] });
      } else if (hintId !== undefined) {
        await lsp.request('workspace/executeCommand', { command: 'pencil.dismissHint', arguments: [hintId] });
      }
    }
    await sleep(150 + ((i * 37 + n * 11) % 300));
  }
  return { i, name, lsp, uri, statuses, title: trace.title };
}

/**
 * A student on the Pencil Code web page instead of an editor: `pencil-lsp
 * --listen` on a store joined to the class, the page in its own browser context.
 */
async function pageStudent(browser, code, base, scratch) {
  const data = join(scratch, 'page-student');
  const home = join(scratch, 'home-page');
  mkdirSync(home, { recursive: true });
  const env = { PATH: process.env.PATH, HOME: home, PENCIL_DATA_DIR: data, PENCIL_MODEL_DIR: '', PENCIL_CLASS_SYNC_SECS: '1', RUST_LOG: 'warn' };
  const joined = spawnSync(LSP, ['class', 'join', code, '--hub', base, '--name', 'Zed'], { env, encoding: 'utf8' });
  assert.equal(joined.status, 0, joined.stderr + joined.stdout);
  const child = spawn(LSP, ['--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`pencil-lsp --listen printed no address:\n${log}`)), 60000);
    child.stderr.setEncoding('utf8').on('data', (c) => {
      log += c;
      const m = /pencil-lsp: open (http:\/\/\S+)/.exec(log);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (c) => { clearTimeout(timer); fail(new Error(`pencil-lsp --listen exited (${c}):\n${log}`)); });
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.getByText('Connected to the coach').waitFor({ timeout: 30000 });
  return { page, stop: async () => { await context.close(); child.kill('SIGTERM'); } };
}

/** First contentful paint of the page just loaded, and when its HTML arrived (ms from navigation start). */
async function firstPaint(page) {
  const t = await page.evaluate(() => new Promise((ok) => {
    const nav = performance.getEntriesByType('navigation')[0];
    const done = (fcp) => ok({ fcp, responseEnd: nav ? nav.responseEnd : NaN });
    const now = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint');
    if (now) return done(now.startTime);
    new PerformanceObserver((list) => {
      const e = list.getEntries().find((x) => x.name === 'first-contentful-paint');
      if (e) done(e.startTime);
    }).observe({ type: 'paint', buffered: true });
    setTimeout(() => done(NaN), 5000);
  }));
  assert.ok(Number.isFinite(t.fcp), 'Chromium reported no first contentful paint');
  return t;
}

// ---------------------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'pencil-hub-e2e-'));
mkdirSync(artifacts, { recursive: true });
const hub = await startHub(join(scratch, 'hub'));
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
let students = [];
let webStudent = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });

  // The teacher signs in and creates a class.
  await page.goto(`${hub.base}/login`);
  await page.fill('input[name=name]', 'ada');
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('form[action="/login"] button')]);
  await page.goto(`${hub.base}/classes`);
  await page.fill('input[name=name]', '7b');
  await Promise.all([page.waitForURL(/\/classes\/\d+$/), page.click('form[action="/classes"] button')]);
  const dashboardUrl = page.url();
  const code = (await page.textContent('span.code')).trim();
  assert.match(code, /^[A-Z0-9]{6}$/);

  // The class works through its traces, all at once.
  const traces = pickTraces(STUDENTS);
  const started = Date.now();
  students = await Promise.all(traces.map((t, i) => student(i, t, code, hub.base, scratch)));
  const runs = students.reduce((n, s) => n + s.statuses.length, 0);
  const failing = students.filter((s) => s.statuses.at(-1) === 'error');
  console.log(`${STUDENTS} students replayed ${runs} runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // One student whose program fails asks the teacher, sharing the trace.
  const asker = failing[0] || students[0];
  const asked = await asker.lsp.request('workspace/executeCommand', {
    command: 'pencil.askTeacher',
    arguments: [{ uri: asker.uri, message: 'My turtle does not do what I want. What is wrong?', shareTrace: true }],
  });
  console.log(`${asker.name} asked the teacher: ${JSON.stringify(asked)}`);

  // A student on the web page runs a failing program and asks too (no trace: the page cannot share it).
  const zed = await pageStudent(browser, code, hub.base, scratch);
  webStudent = zed;
  await zed.page.fill('#title', 'square');
  await zed.page.locator('.cm-content').click();
  await zed.page.keyboard.press('Control+A');
  await zed.page.keyboard.press('Delete');
  await zed.page.keyboard.insertText('pen red\nfor [1..4]\n  fd 100\n  rt 90\nfd (50\n');
  await zed.page.getByRole('button', { name: 'Run', exact: true }).click();
  await zed.page.locator('#problems li').first().waitFor({ timeout: 60000 });
  await zed.page.locator('.show-fix').first().waitFor({ timeout: 60000 });
  assert.ok(await zed.page.locator('#reflect').isHidden(), 'no reflect-first form without a reflect-first policy');
  await zed.page.fill('#ask-text', 'Why is my last line wrong?');
  await zed.page.getByRole('button', { name: 'Ask my teacher' }).click();

  // Every run reaches the hub (the tiles' run counts add up) and both hands arrive.
  const totalRuns = async () => {
    const html = await (await context.request.get(dashboardUrl)).text();
    const counted = [...html.matchAll(/(\d+) runs · last success/g)].reduce((n, m) => n + Number(m[1]), 0);
    return counted >= runs + 1 && html.includes('Raised hands (2)') ? html : null;
  };
  await waitFor(`${runs + 1} runs and two hands on the dashboard`, 90000, totalRuns);

  // The dashboard, as the teacher opens it: time to first paint, then what it says.
  await page.goto(dashboardUrl);
  const fcp30 = await firstPaint(page);
  assert.equal(await page.locator('.tiles > li.tile').count(), STUDENTS + 1);
  const firstHeading = await page.locator('h2').first().textContent();
  assert.equal(firstHeading, 'Raised hands (2)', 'raised hands come first');
  assert.equal(await page.locator('.tiles > li.tile').first().locator('h3').textContent(), asker.name, 'the asking student leads the tiles');
  assert.ok(await page.locator('text=Progress per program').count(), 'per-title progress');
  assert.ok(failing.length > 0 && await page.locator('text=Error types').count(), 'failing runs and the class\'s error types');
  assert.ok(await page.locator('text=Did the hint help?').count(), 'hint outcomes per kind');
  await page.screenshot({ path: join(artifacts, '1-dashboard-30.png'), fullPage: true });

  // The teacher answers; the reply appears in that student's editor.
  const reply = 'Look at your last line: what does rt need after it?';
  const askerHand = page.locator('.hand-request', { hasText: asker.name });
  await askerHand.locator('textarea[name=reply]').fill(reply);
  await Promise.all([page.waitForURL(dashboardUrl), askerHand.locator('button[value=reply]').click()]);
  const pageReply = 'Count the brackets on your last line.';
  const zedHand = page.locator('.hand-request', { hasText: 'Zed' });
  assert.ok((await zedHand.textContent()).includes('fd (50'), 'the page sent the program on screen');
  await zedHand.locator('textarea[name=reply]').fill(pageReply);
  await Promise.all([page.waitForURL(dashboardUrl), zedHand.locator('button[value=reply]').click()]);
  await page.screenshot({ path: join(artifacts, '2-replied.png'), fullPage: true });
  await waitFor('the reply in the student\'s editor', 60000, () => asker.lsp.messages.some((m) => m.includes(reply)));
  console.log(`${asker.name}'s editor showed: ${asker.lsp.messages.find((m) => m.includes(reply))}`);
  await zed.page.getByText(pageReply).first().waitFor({ timeout: 60000 });
  await zed.page.screenshot({ path: join(artifacts, '4-reply-on-the-page.png') });
  console.log('the web page showed the teacher\'s reply');
  assert.deepEqual(pageErrors, [], 'no console errors (a CSP violation would show here)');

  // A district-sized class, filled through the students' API: time to first paint at 300.
  await page.goto(`${hub.base}/classes`);
  await page.fill('input[name=name]', 'all of year 7');
  await Promise.all([page.waitForURL(/\/classes\/\d+$/), page.click('form[action="/classes"] button')]);
  const bigUrl = page.url();
  const bigCode = (await page.textContent('span.code')).trim();
  const api = async (path, token, body) => {
    const r = await fetch(`${hub.base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    return JSON.parse(text);
  };
  const statusesOf = ['ok', 'error', 'error', 'ok', 'timeout', 'ok'];
  for (let d = 0; d < 300; d++) {
    const joined = await api('/api/v1/join', null, { code: bigCode, display_name: `Student ${d + 1}` });
    const title = traces[d % traces.length].title;
    const events = Array.from({ length: 6 }, (_, k) => ({
      id: `e${k}`,
      time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      title,
      status: statusesOf[(d + k) % statusesOf.length],
      error_class: statusesOf[(d + k) % statusesOf.length] === 'error' ? (d % 2 ? 'ReferenceError' : 'SyntaxError') : null,
      hint: k === 2 ? 'shown' : null,
      hint_kind: k === 2 ? 'rule_fix' : null,
    }));
    await api('/api/v1/events', joined.device_token, { events });
  }
  const paints = [];
  for (let k = 0; k < 3; k++) {
    await page.goto(bigUrl);
    paints.push(await firstPaint(page));
  }
  assert.equal(await page.locator('.tiles > li.tile').count(), 300);
  await page.screenshot({ path: join(artifacts, '3-dashboard-300.png') });
  paints.sort((a, b) => a.fcp - b.fcp);
  const ms = (t) => `${t.fcp.toFixed(0)} ms (HTML received at ${t.responseEnd.toFixed(0)} ms)`;
  console.log(`dashboard first contentful paint (Chromium, loopback, from navigation start): ${STUDENTS} students ${ms(fcp30)}; 300 students ${ms(paints[1])} (median of 3)`);
  await context.close();
  console.log(`ok: screenshots in ${artifacts}`);
} finally {
  await Promise.all(students.map((s) => s.lsp.stop()));
  if (webStudent) await webStudent.stop();
  await browser.close();
  hub.stop();
  rmSync(scratch, { recursive: true, force: true });
}
