// Starts a real `pencil-lsp --listen` (throwaway data dir and HOME) and Debian's
// Chromium through playwright-core, for the end-to-end test and the bench.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../../..');
export const artifacts = join(repo, 'target/e2e/pencilcode');
/** Screenshots of the class and research views and their confirmation windows. */
export const pageArtifacts = join(repo, 'target/e2e/page');

/** The server binary: $PENCIL_LSP, else the debug build the cargo tests made. */
export function serverBinary() {
  const bin = process.env.PENCIL_LSP || join(repo, 'target/debug/pencil-lsp');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`cargo build -p pencil-lsp\` first`);
  return bin;
}

/** Debian's Chromium (Playwright's own downloads are not used). */
export function chromiumBinary() {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error('no Chromium: run `bash scripts/setup.sh` (it installs Debian chromium-headless-shell)');
  return found;
}

/**
 * Starts the server on a free loopback port and resolves with the page address it
 * printed, the data dir and a stop function.
 */
export async function startServer() {
  const scratch = mkdtempSync(join(tmpdir(), 'pencil-page-e2e-'));
  const data = join(scratch, 'data');
  const home = join(scratch, 'home');
  mkdirSync(data);
  mkdirSync(home);
  const child = spawn(serverBinary(), ['--listen', '127.0.0.1:0'], {
    env: { PATH: process.env.PATH, HOME: home, PENCIL_DATA_DIR: data, PENCIL_NAMES_DIR: join(repo, '.deps/names'), RUST_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`pencil-lsp printed no address in 60 s:\n${log}`)), 60000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /pencil-lsp: open (http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pencil-lsp exited (${code}) before listening:\n${log}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(scratch, { recursive: true, force: true });
  };
  /** What the store holds now (`pencil-lsp data show --json`). */
  const stored = () => JSON.parse(execFileSync(serverBinary(), ['data', 'show', '--json'], {
    env: { PATH: process.env.PATH, HOME: home, PENCIL_DATA_DIR: data },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }));
  /** Runs `pencil-lsp ARGS` on the same store (the command line the editors use); its stdout. */
  const cli = (/** @type {string[]} */ args) => execFileSync(serverBinary(), args, {
    env: { PATH: process.env.PATH, HOME: home, PENCIL_DATA_DIR: data, PENCIL_NAMES_DIR: join(repo, '.deps/names') },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { url, data, stop, stored, cli, log: () => log };
}

export async function startBrowser() {
  mkdirSync(artifacts, { recursive: true });
  mkdirSync(pageArtifacts, { recursive: true });
  return chromium.launch({ executablePath: chromiumBinary(), headless: true });
}

/**
 * Opens the page in a new tab and waits until it is connected. Collects the
 * page's console errors (a CSP violation shows there) in `errors` and what it
 * sent the server in `sent`.
 * @param {import('playwright-core').BrowserContext} context
 */
export async function openEditor(context, url) {
  const page = await context.newPage();
  const errors = [];
  /** The LSP methods this tab sent, with their params, in order. */
  const sent = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    const message = JSON.parse(String(f.payload));
    sent.push({ method: message.method, params: message.params });
  }));
  await page.goto(url);
  await page.getByText('Connected to the coach').waitFor({ timeout: 30000 });
  return { page, errors, sent };
}

/**
 * Replaces the program in the editor: key by key as a student types (`typed`), or
 * as one input (the bench, where typing speed is not what is measured).
 */
export async function typeProgram(page, text, { typed = true } = {}) {
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  if (typed) await page.keyboard.type(text);
  else await page.keyboard.insertText(text);
}

/** The editor's text, line by line. */
export async function editorLines(page) {
  // An empty line holds a <br>, whose innerText is a newline.
  return (await page.locator('.cm-content .cm-line').allInnerTexts()).map((t) => t.replace(/\n$/, ''));
}

/** Non-white pixels on the drawing canvas (and how many are mostly red). */
export async function canvasInk(page) {
  return page.evaluate(() => {
    const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('drawing'));
    const ctx = canvas.getContext('2d');
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let ink = 0;
    let red = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (r < 245 || g < 245 || b < 245) ink++;
      if (r > 180 && g < 90 && b < 90) red++;
    }
    return { ink, red, pixels: data.length / 4 };
  });
}

/**
 * Waits for the n-th Run (1-based) of this tab to be answered and shown (and, with
 * `diagnostics`, for its diagnostics to reach the editor); returns its timing.
 */
export async function runFinished(page, n, { diagnostics = false } = {}) {
  await page.waitForFunction(([k, diag]) => {
    const runs = window.pencilTimings.runs;
    return runs.length >= k && runs[k - 1].done !== undefined && (!diag || runs[k - 1].diagnostics !== undefined);
  }, [n, diagnostics], { timeout: 60000 });
  return page.evaluate((k) => window.pencilTimings.runs[k - 1], n);
}

/** The hub binary: $PENCIL_HUB, else the debug build. */
export function hubBinary() {
  const bin = process.env.PENCIL_HUB || join(repo, 'target/debug/pencil-hub');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`cargo build -p pencil-hub\` first`);
  return bin;
}

const HUB_PASSWORD = 'correct horse battery';

/** The value of `name="csrf"` in a hub form. */
function csrfOf(/** @type {string} */ html) {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no csrf field in the hub page');
  return m[1];
}

/**
 * Starts a real `pencil-hub` on a loopback port with teacher "ada" and class "7b";
 * resolves with its address, the class id and join code, `publish(file)` (offer a
 * signed study to the class) and a stop function.
 */
export async function startHub() {
  const scratch = mkdtempSync(join(tmpdir(), 'pencil-page-hub-'));
  const child = spawn(hubBinary(), ['--data-dir', scratch, 'serve', '--listen', '127.0.0.1:0'], {
    env: { PATH: process.env.PATH, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise((resolveBase, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`pencil-hub printed no address: ${out}`)), 30000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /pencil-hub listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveBase(m[1]);
      }
    });
  });
  execFileSync(hubBinary(), ['--data-dir', scratch, 'teacher', 'add', '--name', 'ada', '--password-stdin'], { input: `${HUB_PASSWORD}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  const cookieOf = (/** @type {Response} */ r, /** @type {string} */ name) => r.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith(`${name}=`));
  const login = await fetch(`${base}/login`);
  const loginCookie = cookieOf(login, 'pencil_hub_login');
  const signedIn = await fetch(`${base}/login`, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name: 'ada', password: HUB_PASSWORD, csrf: csrfOf(await login.text()) }),
  });
  const session = cookieOf(signedIn, 'pencil_hub_session');
  if (!session) throw new Error(`could not sign in to the hub (${signedIn.status})`);
  const classes = await (await fetch(`${base}/classes`, { headers: { cookie: session } })).text();
  const created = await fetch(`${base}/classes`, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf: csrfOf(classes), name: '7b' }),
  });
  const classId = Number(/\/classes\/(\d+)/.exec(created.headers.get('location') || '')?.[1]);
  const dashboard = await (await fetch(`${base}/classes/${classId}`, { headers: { cookie: session } })).text();
  const code = /<span class="code">([^<]{6})/.exec(dashboard)?.[1];
  if (!classId || !code) throw new Error('could not create the class on the hub');
  const publish = (/** @type {string} */ file) => execFileSync(hubBinary(), ['--data-dir', scratch, 'study', 'publish', file, '--class', String(classId)], { encoding: 'utf8', env: { PATH: process.env.PATH, RUST_LOG: 'warn' } });
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(scratch, { recursive: true, force: true });
  };
  return { base, classId, code, publish, scratch, stop };
}
