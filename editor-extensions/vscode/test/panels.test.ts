// Unit tests of the drawing panel's words and page, the trace timeline, the
// protocol negotiation and the restart policy (no VS Code needed): node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { panelView, RunResult } from '../src/runResult';
import { runPanelHtml } from '../src/panel';
import { diffLines, escapeHtml, hunkWords, traceHtml } from '../src/trace';
import { protocolVersion, runParams } from '../src/protocol';
import { RestartPolicy } from '../src/restart';

const drawing = {
  version: 1,
  width: 1280,
  height: 720,
  background: null,
  ops: [{ op: 'line' as const, color: 'red', width: 1.62, points: [0, 0, 0, 100] }],
  turtles: [{ x: 0, y: 100, heading: 0, visible: true }],
  truncated: false,
};

test('the drawing is asked for only from servers that announce protocol 2 or later', () => {
  assert.equal(protocolVersion(undefined), 1);
  assert.equal(protocolVersion({ experimental: { pencil: { protocolVersion: 1 } } }), 1);
  assert.equal(protocolVersion({ experimental: { pencil: { protocolVersion: 2 } } }), 2);
  assert.equal(protocolVersion({ experimental: { pencil: { protocolVersion: '2' } } }), 1);
  assert.deepEqual(runParams('file:///a.coffee', 1), { textDocument: { uri: 'file:///a.coffee' } });
  assert.deepEqual(runParams('file:///a.coffee', 2), { textDocument: { uri: 'file:///a.coffee' }, drawing: true });
});

test('the panel says in plain words what happened, with the line of the error', () => {
  const failed: RunResult = {
    status: 'error',
    paper_success: false,
    fixes: 1,
    diagnostics: [{ range: { start: { line: 3, character: 0 } }, message: 'fdd is not defined', severity: 1 }],
    drawing,
  };
  const v = panelView(failed, 'car.coffee');
  assert.equal(v.tone, 'bad');
  assert.equal(v.headline, 'Oops! Your program stopped on line 4.');
  assert.deepEqual(v.error, { line: 4, message: 'fdd is not defined' });
  assert.equal(v.notes[0], 'The computer does not know the word "fdd". Is it spelled right?');
  assert.ok(v.notes.some((n) => n.includes('light bulb on line 4')));
  assert.ok(v.notes.some((n) => n.includes('before it stopped')));

  const ok = panelView({ status: 'ok', paper_success: true, fixes: 0, diagnostics: [], drawing }, 'car.coffee');
  assert.equal(ok.tone, 'good');
  assert.equal(ok.error, undefined);
  assert.deepEqual(ok.notes, []);

  const blank = panelView({ status: 'ok', paper_success: true, fixes: 0, diagnostics: [], drawing: { ...drawing, ops: [], truncated: true } }, 'a');
  assert.deepEqual(blank.notes, ['The turtle did not draw anything.', 'Your drawing was very big, so only the first part is shown.']);

  const compile = panelView({ status: 'error', paper_success: false, fixes: 0, diagnostics: [] }, 'a');
  assert.equal(compile.headline, 'Oops! Your program stopped with an error.');
  assert.ok(compile.notes[0].includes('could not start'));
  assert.equal(panelView({ status: 'timeout', paper_success: false, fixes: 0, diagnostics: [] }, 'a').tone, 'bad');
});

test('the drawing page allows only its own nonce and the webview source, nothing remote', () => {
  const html = runPanelHtml({ nonce: 'N0nce', cspSource: 'https://file+.vscode-resource.test', scriptUri: 'https://file+.vscode-resource.test/dist/runPanel.js' });
  const csp = /Content-Security-Policy" content="([^"]*)"/.exec(html)![1];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-N0nce';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
  assert.deepEqual(scripts, [' nonce="N0nce" src="https://file+.vscode-resource.test/dist/runPanel.js"']);
  assert.doesNotMatch(html.replace(/vscode-resource\.test/g, ''), /https?:\/\/(?!file\+)/);
});

test('unified diffs split into added, removed and unchanged lines', () => {
  assert.deepEqual(diffLines('--- a\n+++ b\n@@ -1,2 +1,2 @@\n pen red\n-fd 10\n+fd 100\n\\ No newline at end of file\n'), [
    { kind: 'hunk', text: '@@ -1,2 +1,2 @@' },
    { kind: 'ctx', text: 'pen red' },
    { kind: 'del', text: 'fd 10' },
    { kind: 'add', text: 'fd 100' },
  ]);
  assert.deepEqual(diffLines(''), []);
  assert.equal(hunkWords('@@ -3,2 +4,5 @@'), 'at line 4:');
  assert.equal(hunkWords('@@ -1 +0,0 @@'), 'at line 1:');
});

test('the trace page shows every state and escapes the code as text', () => {
  const html = traceHtml(
    {
      title: 'car</h2><script>alert(1)</script>',
      truncated: true,
      states: [
        { id: 1, n: 1, time: '2026-12-06 12:00:00', trigger: 'run', status: 'error', code: 'label "<img src=x onerror=alert(1)>"\nfd 10\n', diff: '' },
        { id: 2, n: 2, time: '2026-12-06 12:00:30', trigger: 'save', status: 'ok', code: 'fd 100\n', diff: '@@ -1,2 +1 @@\n-label "<b>"\n-fd 10\n+fd 100\n' },
        { id: 3, n: 3, time: '2026-12-06 12:01:00', runs: 3, status: null, code: 'fd 100\n', diff: '' },
      ],
    },
    'abc',
  );
  assert.doesNotMatch(html, /<script|<img|<b>/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(html, /car&lt;\/h2&gt;&lt;script&gt;/);
  assert.match(html, /content="default-src 'none'; style-src 'nonce-abc';"/);
  assert.equal((html.match(/<li class="state">/g) ?? []).length, 3);
  assert.match(html, /<span class="del" title="removed">-fd 10<\/span>/);
  assert.match(html, /<span class="add" title="added">\+fd 100<\/span>/);
  assert.match(html, /<span class="status bad">error<\/span> <span class="trigger">you pressed Run/);
  assert.match(html, /<span class="status good">worked<\/span> <span class="trigger">you saved/);
  assert.match(html, /not checked<\/span> <span class="trigger">ran 3 times</)
  assert.match(html, /No change from the one before/);
  assert.match(html, /Only the latest versions are shown/);
  assert.equal(escapeHtml(`<&>"'`), '&lt;&amp;&gt;&quot;&#39;');
});

test('a crashing server restarts up to four times in three minutes, then the extension gives up', () => {
  let now = 0;
  const p = new RestartPolicy(4, 180_000, () => now);
  for (let i = 0; i < 4; i++) {
    assert.equal(p.onCrash(), 'restart');
    now += 10_000;
  }
  assert.equal(p.onCrash(), 'giveUp');
  assert.match(p.giveUpMessage(), /stopped 5 times in 3 minutes/);
  p.reset();
  assert.equal(p.onCrash(), 'restart');
  // Crashes far apart never add up.
  const q = new RestartPolicy(2, 1000, () => now);
  for (let i = 0; i < 10; i++) {
    now += 5000;
    assert.equal(q.onCrash(), 'restart');
  }
});
