// End to end: the editor page that a real `pencil-lsp --listen` serves, in Debian's
// Chromium. A student types a failing program, presses Run, sees the error at the
// right line, previews and uses the coach's fix, runs again and sees `ok` and the
// turtle's drawing; a second tab works beside the first. Screenshots go to
// target/e2e/pencilcode/. Then, against a real `pencil-hub`: a guarded request
// over the socket does nothing by itself; the student joins a class through the
// page's form and the coach's confirmation window, and agrees to a study, sends
// exactly the bytes shown and withdraws, each in that window (screenshots in
// target/e2e/page/).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, canvasInk, editorLines, openEditor, pageArtifacts, runFinished, startBrowser, startHub, startServer, typeProgram } from './harness.mjs';

const FAILING = 'pen red\nfd 100\nrt 90\nfdd 50\n';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {Awaited<ReturnType<typeof startHub>>} */
let hub;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
  hub = await startHub();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await hub?.stop();
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

/**
 * Clicks `button` on the page and answers the coach's confirmation window that opens:
 * checks it says `expect`, screenshots it, ticks the box and presses `confirm`.
 * Resolves with the window's final words.
 */
async function confirmInWindow(page, button, { expect, confirm, shot }) {
  const opened = page.context().waitForEvent('page');
  await button.click();
  const popup = await opened;
  await popup.waitForLoadState();
  assert.match(new URL(popup.url()).pathname, /^\/confirm\/[0-9a-f]{64}$/);
  // The buttons show a moment after the window (a double click does not confirm).
  await popup.getByRole('button', { name: confirm }).waitFor();
  const text = await popup.locator('main').innerText();
  for (const words of expect) assert.ok(text.includes(words), `the window says ${JSON.stringify(words)}:\n${text}`);
  await popup.screenshot({ path: join(pageArtifacts, `${shot}-confirm.png`), fullPage: true });
  // Nothing is done before the student ticks the box and presses the button.
  await popup.getByLabel('I have read this, and I want it done.').check();
  await popup.getByRole('button', { name: confirm }).click();
  await popup.locator('#message').waitFor();
  const done = await popup.locator('main').innerText();
  await popup.screenshot({ path: join(pageArtifacts, `${shot}-done.png`) });
  await popup.close();
  return { text, done };
}

test('joining a class: a request over the socket does nothing; the form and the confirmation window do', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const { page, errors } = await openEditor(context, server.url);
  await page.getByText('You are not in a class yet. Your teacher gives you').waitFor();

  // A script holding the socket asks to join by itself: nothing happens but a pending confirmation,
  // which it cannot answer without the nonce only the confirmation window shows.
  const sneaky = await page.evaluate(async ({ hubUrl, code }) => {
    const token = /** @type {HTMLMetaElement} */ (document.querySelector('meta[name="pencil-lsp-token"]')).content;
    const ws = new WebSocket(`ws://${location.host}/`, [`pencil-lsp.token.${token}`]);
    await new Promise((r) => { ws.onopen = r; });
    const answers = new Map();
    ws.onmessage = (e) => { const m = JSON.parse(e.data); if (m.id !== undefined) answers.set(m.id, m); };
    const call = (id, method, params) => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      return new Promise((r) => { const t = setInterval(() => { if (answers.has(id)) { clearInterval(t); r(answers.get(id)); } }, 20); });
    };
    await call(1, 'initialize', { capabilities: {} });
    ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'initialized', params: {} }));
    const join = await call(2, 'pencil/class/join', { hub: hubUrl, code, name: 'Sneaky' });
    // The page's own policy does not even let its scripts post to the confirmation.
    const posted = await fetch(join.error.data.url, { method: 'POST', body: 'choice=confirm' }).then(() => 'sent', () => 'blocked');
    const shown = await call(3, 'pencil/class/show', null);
    return { join, posted, shown: shown.result };
  }, { hubUrl: hub.base, code: hub.code });
  assert.equal(sneaky.join.error.code, -32010, JSON.stringify(sneaky.join));
  const url = sneaky.join.error.data.url;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/confirm\/[0-9a-f]{64}$/);
  assert.equal(sneaky.posted, 'blocked');
  assert.deepEqual(sneaky.shown, { joined: false });
  // Answers that are not the window's own are refused: another site's, none, a guessed nonce.
  const post = (/** @type {Record<string, string>} */ headers, /** @type {string} */ body) => fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body,
  }).then((r) => r.status);
  const own = new URL(url).origin;
  assert.equal(await post({ origin: 'https://evil.example' }, 'nonce=x&choice=confirm&understood=yes'), 403);
  assert.equal(await post({}, 'nonce=x&choice=confirm&understood=yes'), 403);
  assert.equal(await post({ origin: own, 'sec-fetch-site': 'cross-site' }, 'nonce=x&choice=confirm&understood=yes'), 403);
  assert.equal(await post({ origin: own }, `nonce=${'0'.repeat(64)}&choice=confirm&understood=yes`), 403, 'a guessed nonce');
  assert.equal((await fetch(url, { headers: { 'sec-fetch-dest': 'iframe' } })).status, 403, 'never in a frame');
  const opened = await fetch(url);
  assert.equal(opened.status, 200);
  assert.match(opened.headers.get('content-security-policy') || '', /frame-ancestors 'none'/);
  assert.equal(opened.headers.get('x-frame-options'), 'DENY');
  assert.doesNotMatch(await opened.text(), /<script/);
  assert.deepEqual(await page.evaluate(() => window.pencilTimings.runs.length), 0);

  // The student joins through the form; the coach's window says where, with which code and as whom.
  await page.locator('#join-hub').fill(hub.base);
  await page.locator('#join-code').fill(hub.code);
  await page.locator('#join-name').fill('Ada');
  await page.screenshot({ path: join(pageArtifacts, '1-join-form.png') });
  const { done } = await confirmInWindow(page, page.getByRole('button', { name: 'Join the class' }), {
    expect: ['Join a class?', hub.base, hub.code, 'Ada', 'The coach\'s page in your browser'],
    confirm: 'Join the class',
    shot: '2-join',
  });
  assert.match(done, /Joined class "7b"/);
  await page.getByText('You are in the class "7b"').waitFor();
  assert.match(await page.locator('#class-note').innerText(), /Joined class "7b"/);
  assert.equal(await page.locator('#join').isHidden(), true);
  await page.screenshot({ path: join(pageArtifacts, '3-joined.png') });
  // "Ask my teacher" with the saved versions goes only through the coach's window too.
  await page.locator('#ask-text').fill('Why does my turtle not move?');
  await page.locator('#ask-share').check();
  const asked = await confirmInWindow(page, page.getByRole('button', { name: 'Ask my teacher' }), {
    expect: ['Send your saved versions to your teacher?', 'class "7b"', 'Why does my turtle not move?'],
    confirm: 'Send to my teacher',
    shot: '3b-ask',
  });
  assert.match(asked.done, /your hand is raised in class "7b"/);
  await page.getByText('your hand is raised in class "7b"').waitFor();
  assert.equal(await page.locator('#ask-share').isChecked(), false);
  // The only console error is the page's policy blocking the script's post above.
  assert.deepEqual(errors.filter((e) => !/favicon|Content Security Policy/.test(e)), []);
  await context.close();
});

/** A study signed by a fresh researcher key, as a researcher publishes it. */
function signedStudy(id) {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const key = Buffer.from(/** @type {string} */ (publicKey.export({ format: 'jwk' }).x), 'base64url').toString('base64');
  const study = {
    version: 1, id, title: 'How novices debug loops', institution: 'Example University', ethics_approval: 'IRB-2026-117',
    contact: 'research@example.edu', researcher_key: key, collects: { programs: 'full', timestamps: 'minute', hints: true },
    retention_days: 365, consent: { version: '3', text: 'We read the programs you write. You may stop at any time.', guardian_below_age: 16 },
  };
  // Signed bytes: the domain line, then the compact JSON with the fields in this order (as serde_json writes it).
  const signature = sign(null, Buffer.concat([Buffer.from('pencil-study-v1\n'), Buffer.from(JSON.stringify(study))]), privateKey).toString('base64');
  return { study, signature };
}

test('a research study: read it, agree, see the exact bytes and send them, withdraw; each step in the confirmation window', async () => {
  const file = join(hub.scratch, 'loops.json');
  writeFileSync(file, JSON.stringify(signedStudy('loops')));
  hub.publish(file);
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const { page, errors } = await openEditor(context, server.url);
  await page.getByText('You are in the class "7b"').waitFor();
  const research = page.locator('#research');
  await research.getByRole('button', { name: 'Show the studies' }).click();
  await research.getByRole('button', { name: 'How novices debug loops' }).click();
  const study = page.getByRole('region', { name: 'Study' });
  await study.getByText('IRB-2026-117').waitFor();
  assert.match(await study.innerText(), /We read the programs you write\./);
  assert.match(await study.innerText(), /version 3 \(students under 16 need a parent's or the school's agreement\)/);
  // The age is asked only when the student agrees for themselves to a study with an age rule.
  assert.equal(await page.locator('#age-row').isVisible(), true);
  await study.getByLabel('A parent or guardian').check();
  assert.equal(await page.locator('#age-row').isVisible(), false);
  await page.screenshot({ path: join(pageArtifacts, '4-study.png') });
  await confirmInWindow(page, study.getByRole('button', { name: 'Agree…' }), {
    expect: ['Agree to a research study?', 'a parent or guardian of the student agrees', 'Example University', 'IRB-2026-117', 'version 3', 'We read the programs you write.'],
    confirm: 'I agree',
    shot: '5-consent',
  });
  await study.getByText('Agreed on').waitFor();

  // A run after agreeing is what the study may collect.
  await page.locator('#title').fill('loops');
  await page.locator('#title').press('Enter');
  await typeProgram(page, 'for [1..4]\n  fd 50\n  rt 90\n', { typed: false });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await runFinished(page, 1);

  const opened = context.waitForEvent('page');
  await study.getByRole('button', { name: 'See what would be sent…' }).click();
  const popup = await opened;
  await popup.waitForLoadState();
  const exact = await popup.locator('#exact').textContent();
  const sha = createHash('sha256').update(exact, 'utf8').digest('hex');
  const words = await popup.locator('main').innerText();
  assert.ok(words.includes(`SHA-256 ${sha}`), `the window names the SHA-256 of exactly the bytes it shows:\n${words}`);
  const body = JSON.parse(exact);
  assert.equal(body.study_id, 'loops');
  assert.deepEqual(body.traces.map((t) => t.title), ['loops']);
  assert.ok(body.traces[0].programs.some((p) => p.code.includes('fd 50')), exact);
  // The editors' command line previews the very same bytes.
  const preview = JSON.parse(server.cli(['research', 'preview', '--study', 'loops', '--json']));
  assert.deepEqual([preview.next.body, preview.next.sha256, preview.next.size], [exact, sha, Buffer.byteLength(exact)]);
  await popup.getByRole('button', { name: 'Send exactly this' }).waitFor();
  await popup.screenshot({ path: join(pageArtifacts, '6-send-confirm.png'), fullPage: true });
  await popup.getByLabel('I have read this, and I want it done.').check();
  await popup.getByRole('button', { name: 'Send exactly this' }).click();
  await popup.locator('#message').waitFor();
  assert.match(await popup.locator('#message').innerText(), new RegExp(`Sent upload .* SHA-256 ${sha}`));
  await popup.close();
  await page.locator('#research-note').getByText(/Sent upload/).waitFor();

  await confirmInWindow(page, study.getByRole('button', { name: 'Withdraw…' }), {
    expect: ['Leave the study?', 'How novices debug loops'],
    confirm: 'Withdraw',
    shot: '7-withdraw',
  });
  await page.locator('#research-note').getByText(/You left the study 'loops'/).waitFor();
  await page.locator('#receipts-box summary').click();
  await page.locator('#receipts').getByText(/withdrawn/).waitFor();
  await page.screenshot({ path: join(pageArtifacts, '8-withdrawn.png') });
  assert.deepEqual(errors.filter((e) => !/favicon/.test(e)), []);
  await context.close();
});
