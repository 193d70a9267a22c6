// Drawing-fidelity benchmark (not a test): for public programs that the real
// Pencil Code runtime runs, raster what the real jquery-turtle draws and what
// pencil-lsp's drawing renders to (editor-extensions/drawing), both in the
// same Chromium at 1280×720, and compare the drawn pixels (IoU).
//
// Usage: node bench.mjs --runtime DIR [--n 300] [--out DIR] [--pencil-lsp BIN]
//                       [--ids A1,A2] [--programs FILE.jsonl] [--threshold 32]
//   --ids: only these oracle ids; --programs: other records shaped like the
//   oracle's ({id, title, code, success, coffee}) instead of labels.jsonl.gz.
//   DIR holds turtlebits.js, rebuilt outside this project (see
//   ../shared/data/oracle/README.md); it is never copied into the project.
// Writes results.jsonl (one line per program, ids only, never the code),
// summary.md and png/ (both rasters and a diff per program) under --out.
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

function parseArgs(argv) {
  const a = { n: 300, threshold: 32, ids: null, programs: null, runtime: null, out: join(root, 'target/bench-drawing'), lsp: join(root, 'target/debug/pencil-lsp') };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--n') a.n = Number(v());
    else if (k === '--runtime') a.runtime = resolve(v());
    else if (k === '--out') a.out = resolve(v());
    else if (k === '--pencil-lsp') a.lsp = resolve(v());
    else if (k === '--threshold') a.threshold = Number(v());
    else if (k === '--ids') a.ids = v().split(',').filter(Boolean);
    else if (k === '--programs') a.programs = resolve(v());
    else throw new Error(`unknown argument ${k}`);
  }
  if (!Number.isInteger(a.n) || a.n < 1) throw new Error('--n must be a positive integer');
  if (!a.runtime) throw new Error('--runtime DIR (holding turtlebits.js) is required');
  return a;
}

const args = parseArgs(process.argv.slice(2));
const turtlebits = join(args.runtime, 'turtlebits.js');
if (!existsSync(turtlebits)) throw new Error(`${turtlebits} is missing`);
if (!existsSync(args.lsp)) throw new Error(`${args.lsp} is missing: cargo build -p pencil-lsp`);
const chromiumPath = ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].find((p) => existsSync(p));
if (!chromiumPath) throw new Error('Debian Chromium is missing: apt-get install chromium-headless-shell');

const W = 1280;
const H = 720;
// A pixel is drawn when one channel differs from the page colour by more than
// this (out of 255): the faintest antialiasing at stroke edges does not count.
const THRESHOLD = args.threshold;
// How long the real page may keep animating after the program's last line.
const SETTLE_MS = 6000;
// Programs driven by timers or input are rastered as they stand this long
// after the page loads, at their own speed: pencil-lsp's virtual clock runs
// them for its window (5.5 s) and draws what they drew by then.
const TIMED_MS = 5500;

// Programs whose drawing depends on chance, or on time and input, differ by
// construction; they are reported apart from the deterministic ones.
const RANDOM = /\brandom\b|Math\.random/;
const TIMERS = /\b(forever|tick|setInterval|setTimeout|pause|wait|sleep|sync|done|play|tone|say)\b/;
const INPUT = /\b(read|readnum|readstr|button|keydown|keyup|keypress|click|mousedown|mouseup|mousemove|pressed|menu|await|defer|prompt)\b/;

function timed(code) {
  return TIMERS.test(code) || INPUT.test(code);
}

function category(code) {
  if (RANDOM.test(code)) return 'random';
  if (INPUT.test(code)) return 'input';
  if (TIMERS.test(code)) return 'timers';
  return 'deterministic';
}

function pick() {
  const labels = args.programs || join(root, '../shared/data/oracle/labels.jsonl.gz');
  const raw = readFileSync(labels);
  const text = labels.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  const rows = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const ok = rows.filter((r) => r.success === true && (!args.ids || args.ids.includes(r.id)));
  // A fixed pseudo-random order (by the hash of the id), so a run is repeatable
  // and the sample spreads over sources and titles.
  const key = (id) => createHash('sha256').update(`bench-drawing:${id}`).digest('hex');
  ok.sort((a, b) => (key(a.id) < key(b.id) ? -1 : 1));
  return ok.slice(0, args.n).map((r) => ({
    id: r.id,
    title: r.title,
    code: r.code,
    // The runtime ran it as JavaScript only when the CoffeeScript run failed.
    lang: r.coffee && r.coffee.end_reached && r.coffee.errors.length === 0 ? 'coffee' : 'javascript',
    category: category(r.code),
    timed: timed(r.code),
  }));
}

function run(cmd, argv, opts) {
  return new Promise((res, rej) => {
    execFile(cmd, argv, { maxBuffer: 1 << 30, ...opts }, (err, stdout, stderr) => {
      if (err && err.code !== 1) rej(new Error(`${cmd} failed: ${err.message}\n${String(stderr).slice(-2000)}`));
      else res({ stdout: String(stdout), stderr: String(stderr), code: err ? err.code : 0 });
    });
  });
}

// Ours: one pencil-lsp process checks every file and prints one JSON line each.
async function oursAll(programs, tmp) {
  const files = programs.map((p) => {
    const f = join(tmp, `${p.id}.${p.lang === 'coffee' ? 'coffee' : 'js'}`);
    writeFileSync(f, p.code);
    return f;
  });
  const t0 = Date.now();
  const { stdout } = await run(args.lsp, ['check', '--json', '--drawing', '--jobs', '2', ...files]);
  const ms = Date.now() - t0;
  const byFile = new Map();
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const v = JSON.parse(line);
    byFile.set(resolve(v.file), v);
  }
  return { results: files.map((f) => byFile.get(resolve(f)) || null), ms };
}

function escapeScript(code) {
  // Keep the program inside its <script> element.
  return code.replace(/<\/script/gi, '<\\/script');
}

function realPage(p) {
  // As the oracle's page (turtlebits.js, then the program with an end marker),
  // plus, unless timed, a patch that makes every move instant: programs that
  // set a slow speed would otherwise take minutes, and the final drawing does
  // not depend on it.
  const instant = p.timed ? '' : `
    (function () {
      Object.defineProperty($.fx.speeds, 'turtle', { get: function () { return 0; }, set: function () {}, configurable: true });
      var hook = $.cssHooks.turtleSpeed, set = hook.set;
      hook.set = function (elem) { return set.call(this, elem, Infinity); };
      $('.turtle').css('turtleSpeed', Infinity);
    })();`;
  const type = p.lang === 'coffee' ? 'text/coffeescript' : 'text/javascript';
  return `<!doctype html><html><head><meta charset="utf-8"></head><body>
<script src="${pathToFileURL(turtlebits).href}"></script>
<script>${instant}</script>
<script type="${type}">
${escapeScript(p.code)}
console.log("BENCH_END");
</script>
</body></html>`;
}

function oursPage(bundle) {
  return `<!doctype html><html><head><meta charset="utf-8">
<style>html,body{margin:0;padding:0;overflow:hidden}canvas{position:absolute;left:0;top:0;width:${W}px;height:${H}px}</style>
</head><body><canvas id="c"></canvas><script>${bundle}</script></body></html>`;
}

async function bundleRenderer() {
  const out = await build({
    entryPoints: [join(root, 'editor-extensions/drawing/src/render.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'PencilDrawing',
    target: 'es2020',
    logLevel: 'warning',
  });
  return out.outputFiles[0].text;
}

// Counts drawn pixels of both rasters and their overlap, in the page, and
// draws the diff (red: only the real runtime, blue: only ours, black: both).
async function compare(page, realPng, realBg, oursPng, oursBg, threshold) {
  return page.evaluate(
    async ({ realPng, realBg, oursPng, oursBg, threshold }) => {
      const load = (b64) =>
        new Promise((res, rej) => {
          const img = new Image();
          img.onload = () => res(img);
          img.onerror = rej;
          img.src = `data:image/png;base64,${b64}`;
        });
      const pixels = (img) => {
        const c = document.createElement('canvas');
        c.width = img.width;
        c.height = img.height;
        const x = c.getContext('2d');
        x.drawImage(img, 0, 0);
        return x.getImageData(0, 0, c.width, c.height);
      };
      const rgb = (css) => {
        const c = document.createElement('canvas');
        c.width = c.height = 1;
        const x = c.getContext('2d');
        x.fillStyle = 'white';
        x.fillRect(0, 0, 1, 1);
        x.fillStyle = css;
        x.fillRect(0, 0, 1, 1);
        return x.getImageData(0, 0, 1, 1).data;
      };
      const a = pixels(await load(realPng));
      const b = pixels(await load(oursPng));
      const ba = rgb(realBg);
      const bb = rgb(oursBg);
      const w = Math.min(a.width, b.width);
      const h = Math.min(a.height, b.height);
      const diff = new ImageData(w, h);
      let both = 0, onlyA = 0, onlyB = 0;
      let ax = 0, ay = 0, bx = 0, by = 0;
      const drawn = (d, i, bg) =>
        Math.max(Math.abs(d[i] - bg[0]), Math.abs(d[i + 1] - bg[1]), Math.abs(d[i + 2] - bg[2])) > threshold;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const ia = (y * a.width + x) * 4;
          const ib = (y * b.width + x) * 4;
          const da = drawn(a.data, ia, ba);
          const db = drawn(b.data, ib, bb);
          const o = (y * w + x) * 4;
          if (da) { ax += x; ay += y; }
          if (db) { bx += x; by += y; }
          let c = [255, 255, 255];
          if (da && db) { both++; c = [0, 0, 0]; }
          else if (da) { onlyA++; c = [230, 30, 30]; }
          else if (db) { onlyB++; c = [30, 60, 230]; }
          diff.data.set([c[0], c[1], c[2], 255], o);
        }
      }
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      c.getContext('2d').putImageData(diff, 0, 0);
      const union = both + onlyA + onlyB;
      return {
        iou: union === 0 ? 1 : both / union,
        drawn_real: both + onlyA,
        drawn_ours: both + onlyB,
        both,
        // Where each side's ink sits on average: a shift shows as a difference.
        centroid_real: both + onlyA ? [ax / (both + onlyA), ay / (both + onlyA)].map((v) => Math.round(v * 10) / 10) : null,
        centroid_ours: both + onlyB ? [bx / (both + onlyB), by / (both + onlyB)].map((v) => Math.round(v * 10) / 10) : null,
        diff: c.toDataURL('image/png').split(',')[1],
      };
    },
    { realPng, realBg, oursPng, oursBg, threshold },
  );
}

async function rasterReal(browser, p, tmp) {
  const context = await browser.newContext({ viewport: { width: W, height: H }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  let ended = false;
  page.on('console', (m) => {
    if (m.type() === 'log' && m.text() === 'BENCH_END') ended = true;
    else if (m.type() === 'error') errors.push(m.text().slice(0, 200));
  });
  page.on('pageerror', (e) => errors.push(String(e.message || e).slice(0, 200)));
  const html = join(tmp, `${p.id}.html`);
  writeFileSync(html, realPage(p));
  const t0 = Date.now();
  try {
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load', timeout: 15000 });
  } catch (e) {
    errors.push(`navigation: ${String(e.message).split('\n')[0]}`);
  }
  // Wait for the end marker, then for every turtle's animation queue to empty
  // (instant moves still queue behind `pause` and friends); timed programs
  // run for their window instead.
  let settled = false;
  const deadline = Date.now() + SETTLE_MS;
  if (p.timed) await page.waitForTimeout(Math.max(0, TIMED_MS - (Date.now() - t0)));
  while (!p.timed && Date.now() < deadline) {
    const idle = await page
      .evaluate(() => {
        if (typeof $ === 'undefined') return false;
        return Array.from(document.querySelectorAll('.turtle')).every((e) => $.queue(e).length === 0 && $.queue(e, 'fx').length === 0);
      })
      .catch(() => false);
    if (ended && idle) {
      settled = true;
      break;
    }
    await page.waitForTimeout(100);
  }
  // Let any last animation frame paint, then hide the turtles (sprites) only.
  await page.waitForTimeout(150);
  const bg = await page
    .evaluate(() => {
      document.querySelectorAll('.turtle').forEach((e) => (e.style.visibility = 'hidden'));
      const s = (el) => getComputedStyle(el).backgroundColor;
      const t = (c) => !c || c === 'transparent' || /rgba\(.*,\s*0\)$/.test(c);
      return !t(s(document.body)) ? s(document.body) : !t(s(document.documentElement)) ? s(document.documentElement) : 'white';
    })
    .catch(() => 'white');
  const png = await page.screenshot({ clip: { x: 0, y: 0, width: W, height: H } });
  // The drawing carries the turtle field (canvas and labels) only; what the
  // program wrote as HTML (write, button, table, the see panel) is not in it.
  // A second raster hides that HTML, to tell the two apart.
  const htmlOut = await page
    .evaluate(() => {
      let n = 0;
      const outside = Array.from(document.documentElement.children).filter((e) => e !== document.head && e !== document.body);
      for (const e of [...Array.from(document.body.children), ...outside]) {
        // The turtle surface holds the canvas and the labels; the see panel
        // is a turtlefield too, without them.
        if (e.tagName === 'SCRIPT') continue;
        if (e.classList.contains('turtlefield') && (e.querySelector('#origin') || e.querySelector('canvas'))) continue;
        const r = e.getBoundingClientRect();
        if (r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden') n++;
        e.style.visibility = 'hidden';
      }
      // Written lines may have scrolled the page (and the turtle field) up.
      if (n) window.scrollTo(0, 0);
      return n;
    })
    .catch(() => 0);
  const fieldPng = htmlOut ? await page.screenshot({ clip: { x: 0, y: 0, width: W, height: H } }) : png;
  await context.close();
  return { png, fieldPng, html: htmlOut, bg, ended, settled, errors, ms: Date.now() - t0 };
}

async function rasterOurs(page, drawing) {
  await page.evaluate((d) => {
    PencilDrawing.renderDrawing(document.getElementById('c'), d, { turtles: false, fit: 'page' });
  }, drawing);
  return page.screenshot({ clip: { x: 0, y: 0, width: W, height: H } });
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function stats(rows, key = 'iou') {
  const v = rows.map((r) => r[key]).sort((a, b) => a - b);
  const mean = v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
  return { n: v.length, median: quantile(v, 0.5), p10: quantile(v, 0.1), mean };
}

const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '–');

async function main() {
  const wall0 = Date.now();
  const programs = pick();
  const tmp = join(args.out, 'tmp');
  const pngDir = join(args.out, 'png');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  mkdirSync(pngDir, { recursive: true });

  const ours = await oursAll(programs, tmp);
  const bundle = await bundleRenderer();
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--font-render-hinting=none'] });
  const oursCtx = await browser.newContext({ viewport: { width: W, height: H }, deviceScaleFactor: 1 });
  const oursTab = await oursCtx.newPage();
  await oursTab.setContent(oursPage(bundle));

  const rows = [];
  for (let i = 0; i < programs.length; i++) {
    const p = programs[i];
    const v = ours.results[i];
    const row = { id: p.id, title: p.title, lang: p.lang, category: p.category };
    row.ours_status = v ? v.status : 'missing';
    const drawing = v && v.drawing;
    const real = await rasterReal(browser, p, tmp);
    row.timed = p.timed;
    row.html_output = real.html;
    row.real_ended = real.ended;
    row.real_settled = real.settled;
    row.real_errors = real.errors.length;
    row.real_ms = real.ms;
    writeFileSync(join(pngDir, `${p.id}.real.png`), real.png);
    if (!drawing) {
      row.iou = null;
      row.note = 'no drawing from pencil-lsp';
      rows.push(row);
      continue;
    }
    row.ops = drawing.ops.length;
    row.truncated = drawing.truncated;
    const oursPng = await rasterOurs(oursTab, drawing);
    writeFileSync(join(pngDir, `${p.id}.ours.png`), oursPng);
    const c = await compare(oursTab, real.png.toString('base64'), real.bg, oursPng.toString('base64'), drawing.background || 'white', THRESHOLD);
    writeFileSync(join(pngDir, `${p.id}.diff.png`), Buffer.from(c.diff, 'base64'));
    const field = real.html
      ? await compare(oursTab, real.fieldPng.toString('base64'), real.bg, oursPng.toString('base64'), drawing.background || 'white', THRESHOLD)
      : c;
    row.iou_field = field.iou;
    if (real.html) writeFileSync(join(pngDir, `${p.id}.field-diff.png`), Buffer.from(field.diff, 'base64'));
    Object.assign(row, {
      iou: c.iou,
      drawn_real: c.drawn_real,
      drawn_ours: c.drawn_ours,
      both: c.both,
      centroid_real: c.centroid_real,
      centroid_ours: c.centroid_ours,
    });
    row.op_kinds = [...new Set(drawing.ops.map((o) => o.op))].sort().join(',');
    rows.push(row);
    if ((i + 1) % 25 === 0) process.stderr.write(`bench-drawing: ${i + 1}/${programs.length}\n`);
  }
  await browser.close();
  rmSync(tmp, { recursive: true, force: true });

  writeFileSync(join(args.out, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const compared = rows.filter((r) => r.iou != null);
  const groups = ['deterministic', 'timers', 'input', 'random'];
  const wall = (Date.now() - wall0) / 1000;
  const lines = [];
  lines.push('# Drawing fidelity: pencil-lsp drawing vs the real Pencil Code runtime', '');
  lines.push(`Programs: ${programs.length} (success: true in labels.jsonl.gz, fixed hash order); compared: ${compared.length}; no drawing from pencil-lsp: ${rows.length - compared.length}.`);
  lines.push(`Raster: Chromium ${chromiumPath}, ${W}×${H}, drawn = a channel differs from the page colour by > ${THRESHOLD}/255; IoU of drawn pixels, both empty = 1.`);
  lines.push(`pencil-lsp check (all programs, one process, 2 jobs): ${(ours.ms / 1000).toFixed(1)} s. Wall time of the whole benchmark: ${wall.toFixed(0)} s.`, '');
  lines.push('IoU (page): the whole page as the student sees it. IoU (field): the real page with the HTML the program wrote (write, button, table, the see panel) hidden, leaving the turtle canvas and labels, which is what the drawing carries.', '');
  lines.push('| programs | n | median IoU (page) | p10 (page) | mean (page) | median IoU (field) | p10 (field) | mean (field) |', '|---|---|---|---|---|---|---|---|');
  const row = (name, set) => {
    const a = stats(set, 'iou');
    const b = stats(set, 'iou_field');
    lines.push(`| ${name} | ${a.n} | ${f3(a.median)} | ${f3(a.p10)} | ${f3(a.mean)} | ${f3(b.median)} | ${f3(b.p10)} | ${f3(b.mean)} |`);
  };
  row('all', compared);
  for (const g of groups) row(g, compared.filter((r) => r.category === g));
  row('deterministic, no HTML output', compared.filter((r) => r.category === 'deterministic' && !r.html_output));
  lines.push('', 'Categories: random = uses `random` (differs by construction); input = waits on clicks, keys, buttons or `read`; timers = `forever`, `tick`, `pause`, `done`, …; the two last are rastered 5.5 s after load at their own speed, the others once their turtles stop (every move instant).');
  const notSettled = rows.filter((r) => !r.timed && !r.real_settled).map((r) => r.id);
  lines.push('', `Untimed real pages still animating after ${SETTLE_MS / 1000} s: ${notSettled.length}${notSettled.length ? ` (${notSettled.slice(0, 30).join(', ')}${notSettled.length > 30 ? ', …' : ''})` : ''}. Programs that wrote HTML: ${rows.filter((r) => r.html_output).length}.`);
  const table = (title, set, key) => {
    lines.push('', `## ${title}`, '', '| id | category | IoU (page) | IoU (field) | HTML | drawn real | drawn ours | ops | op kinds |', '|---|---|---|---|---|---|---|---|---|');
    for (const r of [...set].sort((a, b) => a[key] - b[key]).slice(0, 10)) {
      lines.push(`| ${r.id} | ${r.category} | ${f3(r.iou)} | ${f3(r.iou_field)} | ${r.html_output ? 'yes' : ''} | ${r.drawn_real} | ${r.drawn_ours} | ${r.ops} | ${r.op_kinds} |`);
    }
  };
  table('The 10 worst programs (page)', compared, 'iou');
  table('The 10 worst deterministic programs (field)', compared.filter((r) => r.category === 'deterministic'), 'iou_field');
  const missing = rows.filter((r) => r.iou == null);
  if (missing.length) lines.push('', `No drawing from pencil-lsp: ${missing.map((r) => `${r.id} (${r.ours_status})`).join(', ')}.`);
  lines.push('', `Per program: results.jsonl; rasters and diffs (red: real only, blue: ours only, black: both): png/.`);
  writeFileSync(join(args.out, 'summary.md'), lines.join('\n') + '\n');
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench-drawing: ${e.stack || e}\n`);
  process.exit(1);
});
