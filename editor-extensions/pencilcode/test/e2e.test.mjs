// End to end: the editor page that a real `pencil-lsp --listen` serves, in Debian's
// Chromium. A student types a failing program, presses Run, sees the error at the
// right line, previews and uses the coach's fix, runs again and sees `ok` and the
// turtle's drawing; a second tab works beside the first. Screenshots go to
// target/e2e/pencilcode/.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { artifacts, canvasInk, editorLines, openEditor, runFinished, startBrowser, startServer, typeProgram } from './harness.mjs';

const FAILING = 'pen red\nfd 100\nrt 90\nfdd 50\n';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the page is refused without the token', async () => {
  const address = new URL(server.url);
  const bare = await fetch(`http://${address.host}/`);
  assert.equal(bare.status, 401);
  const wrong = await fetch(`http://${address.host}/?token=${'0'.repeat(64)}`);
  assert.equal(wrong.status, 403);
  const page = await fetch(server.url);
  assert.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy') || '';
  assert.match(csp, /script-src 'nonce-[0-9a-f]{32}'/);
  assert.doesNotMatch(csp, /unsafe-inline|https?:/, csp);
});

test('type a failing program, Run, fix it, Run again: ok and a drawing; a second tab too', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 800 } });
  const { page, errors, sent } = await openEditor(context, server.url);
  const run = page.getByRole('button', { name: 'Run', exact: true });

  await page.locator('#title').fill('square');
  await page.locator('#title').press('Enter');
  await typeProgram(page, FAILING);
  assert.deepEqual(await editorLines(page), ['pen red', 'fd 100', 'rt 90', 'fdd 50', '']);
  await run.click();
  await runFinished(page, 1);

  // The error is underlined on line 4, and the words say so.
  const underline = page.locator('.cm-lintRange-error').first();
  await underline.waitFor();
  const line = await underline.evaluate((el) => {
    const row = el.closest('.cm-line');
    return [...row.parentElement.children].filter((c) => c.classList.contains('cm-line')).indexOf(row) + 1;
  });
  assert.equal(line, 4, 'the error is marked on the line of fdd');
  assert.equal(await underline.innerText(), 'fdd');
  await assert.doesNotReject(page.getByText('Oops! There is a problem on line 4.').waitFor());
  assert.equal(await page.locator('#verdict').getAttribute('data-tone'), 'error');
  assert.match(await page.locator('#problems').innerText(), /^Line 4: /);
  await page.screenshot({ path: join(artifacts, '1-error.png') });

  // The fix is previewed before it is used.
  const seeFix = page.getByRole('button', { name: /^See fix: / }).first();
  await seeFix.waitFor({ timeout: 30000 });
  await seeFix.click();
  const preview = page.getByRole('region', { name: 'Fix preview' });
  await preview.waitFor();
  assert.match(await preview.locator('.removed').innerText(), /fdd 50/);
  assert.match(await preview.locator('.added').innerText(), /fd 50/);
  assert.deepEqual(await editorLines(page), ['pen red', 'fd 100', 'rt 90', 'fdd 50', ''], 'previewing changes nothing');
  await page.screenshot({ path: join(artifacts, '2-fix-preview.png') });
  await page.getByRole('button', { name: 'Use this fix' }).click();
  assert.deepEqual(await editorLines(page), ['pen red', 'fd 100', 'rt 90', 'fd 50', '']);

  await run.click();
  const second = await runFinished(page, 2);
  assert.equal(second.status, 'ok');
  await page.getByText('It worked! Your program ran to the end.').waitFor();
  assert.equal(await page.locator('.cm-lintRange-error').count(), 0);
  assert.equal(await page.locator('#problems li').count(), 0);
  const ink = await canvasInk(page);
  assert.ok(ink.ink > 50, `the canvas has a drawing (${ink.ink} non-white pixels)`);
  assert.ok(ink.red > 20, `the pen is red (${ink.red} red pixels)`);
  await page.screenshot({ path: join(artifacts, '3-ok-drawing.png') });
  const zoom = page.getByRole('button', { name: 'Zoom in' });
  await zoom.click();
  const zoomed = await canvasInk(page);
  assert.ok(zoomed.red > 2 * ink.red, `zoomed in, the lines are longer (${zoomed.red} vs ${ink.red} red pixels)`);
  await page.screenshot({ path: join(artifacts, '3b-zoomed.png') });
  await zoom.click();

  // A second tab: its own connection to the same server, run with Ctrl+Enter.
  const other = await openEditor(context, server.url);
  await other.page.locator('#title').fill('star');
  await other.page.locator('#title').press('Enter');
  await typeProgram(other.page, 'pen blue\nfor [1..5]\n  fd 80\n  rt 144\n', { typed: false });
  await other.page.keyboard.press('Control+Enter');
  const starRun = await runFinished(other.page, 1);
  assert.equal(starRun.status, 'ok');
  const starInk = await canvasInk(other.page);
  assert.ok(starInk.ink > 50 && starInk.red === 0, `the star is drawn in blue (${JSON.stringify(starInk)})`);
  await other.page.screenshot({ path: join(artifacts, '4-second-tab.png') });

  // The hint size goes to the server as a setting; nothing opens over the code.
  await other.page.getByLabel('How big should fixes be?').selectOption('large');
  await other.page.waitForFunction(() => document.getElementById('hints').textContent.includes('large'));
  const settings = other.sent.filter((m) => m.method === 'workspace/didChangeConfiguration');
  assert.deepEqual(settings.map((m) => m.params), [{ settings: { pencil: { hintSize: 'large' } } }]);
  assert.equal(await other.page.locator('[role=dialog], .cm-lsp-message').count(), 0);

  // The first tab still has its connection.
  await run.click();
  assert.equal((await runFinished(page, 3)).status, 'ok');

  // The titles typed in the two tabs are the titles the coach recorded the runs
  // under, and the used fix's command reached it (the fix counts as accepted).
  const stored = server.stored();
  assert.deepEqual(stored.titles.map((t) => t.title).sort(), ['square', 'star'], JSON.stringify(stored));
  assert.equal(stored.titles.find((t) => t.title === 'square').runs, 3);
  assert.ok(stored.hints_accepted >= 1, JSON.stringify(stored));

  // Like any LSP client: the fix's edit, then its command.
  const methods = sent.map((m) => m.method);
  const used = methods.indexOf('workspace/executeCommand');
  assert.ok(used > methods.indexOf('textDocument/codeAction'), methods.join(' '));
  assert.equal(sent[used].params.command, 'pencil.acceptFix');

  assert.deepEqual(errors.filter((e) => !/favicon/.test(e)), [], 'no console errors (a CSP violation would be one)');
  assert.deepEqual(other.errors, []);
  await context.close();
});
