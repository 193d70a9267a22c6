// Unit tests of the extension's own logic (no VS Code needed): node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findServer, binaryName } from '../src/serverPath';
import { readSettings, serverOptions } from '../src/settings';
import { describeRun } from '../src/runResult';
import { HintGate } from '../src/hints';

test('the setting wins, then PATH, then the bundled server', () => {
  const have = (files: string[]) => (f: string) => files.includes(f);
  const base = { pathEnv: '/usr/bin:/opt/pencil/bin', platform: 'linux', extensionDir: '/ext' };
  assert.deepEqual(findServer({ ...base, setting: '/x/pencil-lsp', isExecutable: have(['/x/pencil-lsp', '/opt/pencil/bin/pencil-lsp']) }), {
    path: '/x/pencil-lsp',
    source: 'setting',
  });
  assert.deepEqual(findServer({ ...base, isExecutable: have(['/opt/pencil/bin/pencil-lsp', '/ext/server/pencil-lsp']) }), {
    path: '/opt/pencil/bin/pencil-lsp',
    source: 'PATH',
  });
  assert.deepEqual(findServer({ ...base, setting: '  ', isExecutable: have(['/ext/server/pencil-lsp']) }), {
    path: '/ext/server/pencil-lsp',
    source: 'bundled',
  });
});

test('a setting that points nowhere is an error naming it, not a silent fallback', () => {
  const r = findServer({ setting: '/nope', pathEnv: '/usr/bin', platform: 'linux', extensionDir: '/ext', isExecutable: () => false });
  assert.ok('error' in r && r.error.includes('/nope'));
  const none = findServer({ pathEnv: '', platform: 'win32', extensionDir: 'C:\\ext', isExecutable: () => false });
  assert.ok('error' in none && none.error.includes('pencil-lsp.exe'));
  assert.equal(binaryName('darwin'), 'pencil-lsp');
});

test('settings map to the server options and unset paths stay unset', () => {
  const values: Record<string, unknown> = { 'hints.size': 'large', 'model.dir': '/m', recordOnSave: false, retentionDays: 30 };
  const s = readSettings((k) => values[k] as never);
  assert.deepEqual(serverOptions(s), { pencil: { hintSize: 'large', recordOnSave: false, modelDir: '/m', retentionDays: 30 } });
  const defaults = readSettings(() => undefined);
  assert.deepEqual(serverOptions(defaults), { pencil: { hintSize: 'small', recordOnSave: true } });
  assert.equal(readSettings((k) => (k === 'hints.size' ? 'huge' : undefined) as never).hintSize, 'small');
});

test('run results read as sentences with the line', () => {
  const error = describeRun({
    status: 'error',
    paper_success: false,
    fixes: 1,
    diagnostics: [{ range: { start: { line: 1, character: 4 } }, message: 'lightbleu is not defined', severity: 1 }],
  });
  assert.equal(error.problem, true);
  assert.match(error.message, /line 2: lightbleu is not defined/);
  assert.match(error.message, /A fix is ready/);
  assert.equal(describeRun({ status: 'ok', paper_success: true, fixes: 0, diagnostics: [] }).message, 'Your program runs.');
  assert.equal(describeRun({ status: 'timeout', paper_success: false, fixes: 0, diagnostics: [] }).problem, true);
});

test('each hint notifies once, and none when hints are off', () => {
  const gate = new HintGate(true);
  const h = { textDocument: { uri: 'file:///a.coffee' }, message: 'm', risk: 0.7, hint_id: 3 };
  assert.equal(gate.decide(h), 'notify');
  assert.equal(gate.decide(h), 'statusOnly');
  assert.equal(gate.decide({ ...h, hint_id: 4 }), 'notify');
  gate.setEnabled(false);
  assert.equal(gate.decide({ ...h, hint_id: 5 }), 'drop');
});
