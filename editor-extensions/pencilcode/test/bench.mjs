// Run-to-diagnostic and Run-to-drawing time in the page, as the student sees them
// (measured in the page: from the Run click's handler to the diagnostics reaching
// the editor, and to the drawing being on the canvas), p50/p95 over N runs of each
// kind, plus the page's size. Not part of the tests: `npm run bench [N]`.
import { statSync } from 'node:fs';
import { startBrowser, startServer, openEditor, runFinished, typeProgram } from './harness.mjs';
import { percentile } from '../src/words.js';

const n = Number(process.argv[2] || 30);
const server = await startServer();
const browser = await startBrowser();
try {
  const pageBytes = (await (await fetch(server.url)).arrayBuffer()).byteLength;
  const context = await browser.newContext({ viewport: { width: 1400, height: 800 } });
  const { page } = await openEditor(context, server.url);
  const run = page.getByRole('button', { name: 'Run', exact: true });
  const diagnostics = [];
  const drawings = [];
  let runs = 0;
  // Each program is new to the server (a different number each time), typed and
  // run at once, so no check made ahead of the run is reused.
  for (let i = 0; i < n; i++) {
    await typeProgram(page, `pen red\nfd ${100 + i}\nrt 90\nfdd 50\n`, { typed: false });
    await run.click();
    const failing = await runFinished(page, ++runs, { diagnostics: true });
    if (failing.status !== 'error' || failing.diagnostics === undefined) throw new Error(`run ${runs}: ${JSON.stringify(failing)}`);
    diagnostics.push(failing.diagnostics - failing.started);
    // The fixes the page then asks for ("Fix in my style" samples the model) are
    // left to finish, as while a student reads them, so the next run is not timed
    // against that work.
    await page.waitForFunction(() => !document.getElementById('fix-note').textContent.includes('looking'), null, { timeout: 60000 });
    await typeProgram(page, `pen blue\nfor [1..4]\n  fd ${100 + i}\n  rt 90\n`, { typed: false });
    await run.click();
    const ok = await runFinished(page, ++runs);
    if (ok.status !== 'ok' || !ok.drew) throw new Error(`run ${runs}: ${JSON.stringify(ok)}`);
    drawings.push(ok.drawing - ok.started);
  }
  const fmt = (xs) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms (n=${xs.length})`;
  console.log(`Run-to-diagnostic (failing program): ${fmt(diagnostics)}`);
  console.log(`Run-to-drawing (ok program):         ${fmt(drawings)}`);
  console.log(`page as served (HTML + inline JS + CSS): ${(pageBytes / 1024).toFixed(0)} KiB`);
} finally {
  await browser.close();
  await server.stop();
}
