// Tests of the classroom commands' argument building and checks (no VS Code
// needed): node --test. The last test runs the class calls against the real
// `pencil-lsp` (target/debug or $PENCIL_LSP) outside a class, and asks its
// server to raise a hand there: each says plainly that a class is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as C from '../src/classroom';
import { toolError } from '../src/research';

test('class calls carry the store; a join code is cleaned, anything else never reaches the command line', () => {
  assert.deepEqual(C.classArgs.join(' k7q-2mx ', ' https://hub.school.example/ ', ' Grace ', { dataDir: '/d' }), [
    'class', 'join', 'k7q2mx', '--hub', 'https://hub.school.example/', '--name', 'Grace', '--data-dir', '/d',
  ]);
  assert.deepEqual(C.classArgs.show({}), ['class', 'show']);
  assert.deepEqual(C.classArgs.hands({ dataDir: '/d' }), ['class', 'hands', '--data-dir', '/d']);
  for (const bad of ['--hub', '', 'a b c d é', '../x']) {
    assert.throws(() => C.classArgs.join(bad, 'https://h', 'n', {}), /not a join code/, bad);
    assert.ok(C.codeProblem(bad), bad);
  }
  assert.equal(C.codeProblem('K7Q2MX'), undefined);
});

test('typed hub addresses, names and messages are checked before a round trip', () => {
  assert.equal(C.hubProblem('https://hub.school.example'), undefined);
  assert.equal(C.hubProblem('http://127.0.0.1:7070'), undefined);
  assert.equal(C.hubProblem('http://localhost:7070/'), undefined);
  assert.match(C.hubProblem('http://hub.school.example') ?? '', /unencrypted/);
  assert.ok(C.hubProblem('hub.school.example'));
  assert.ok(C.hubProblem('ftp://127.0.0.1'));
  assert.equal(C.nameProblem(' Grace '), undefined);
  assert.ok(C.nameProblem('  '));
  assert.match(C.nameProblem('grace@school.example') ?? '', /e-mail/);
  assert.equal(C.messageProblem(''), undefined);
  assert.ok(C.messageProblem('x'.repeat(C.MAX_MESSAGE + 1)));
  assert.ok(C.reflectionProblem(' ok '));
  assert.equal(C.reflectionProblem('the colour is misspelled'), undefined);
});

test('ask-my-teacher arguments, the reflect request and the answers the server gives', () => {
  assert.deepEqual(C.askTeacherArgs('file:///c.coffee', '  why?  ', true), [{ uri: 'file:///c.coffee', message: 'why?', shareTrace: true }]);
  assert.deepEqual(C.askTeacherArgs('file:///c.coffee', '   ', false), [{ uri: 'file:///c.coffee', shareTrace: false }]);
  assert.ok(C.isReflectRequest('pencil.reflect', ['file:///c.coffee']));
  assert.ok(!C.isReflectRequest('pencil.reflect', ['file:///c.coffee', 'words']), 'already has the words: sent as it is');
  assert.ok(!C.isReflectRequest('pencil.acceptFix', [3]));
  assert.equal(C.commandMessage({ message: 'Your hand is raised' }, 'x'), 'Your hand is raised');
  assert.equal(C.commandMessage(null, 'fallback'), 'fallback');
  assert.equal(C.commandMessage({ message: 3 }, 'fallback'), 'fallback');
  assert.equal(C.classText('Class "7b"\n', 'Hands raised\n'), 'Class "7b"\n\nHands raised\n');
  assert.ok(C.notInClass('Not in a class. Join one with: ...'));
});

const REPO = path.resolve(__dirname, '../../../..');
const BIN = process.env.PENCIL_LSP ?? path.join(REPO, 'target/debug/pencil-lsp');

/** `workspace/executeCommand pencil.askTeacher` on the real server, for a document it has open. */
async function askServer(dataDir: string): Promise<{ result?: unknown; error?: { message: string } }> {
  const server = spawn(BIN, ['--data-dir', dataDir], { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, RUST_BACKTRACE: '0' } });
  const waiting = new Map<number, (v: unknown) => void>();
  // One char per byte (latin1), so Content-Length counts what it should.
  let buffer = '';
  server.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    for (;;) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(buffer.slice(0, end))?.[1]);
      if (buffer.length < end + 4 + length) return;
      const message = JSON.parse(Buffer.from(buffer.slice(end + 4, end + 4 + length), 'latin1').toString('utf8'));
      buffer = buffer.slice(end + 4 + length);
      if (message.id !== undefined && waiting.has(message.id) && !message.method) waiting.get(message.id)?.(message);
    }
  });
  let next = 1;
  const send = (m: object) => {
    const body = JSON.stringify({ jsonrpc: '2.0', ...m });
    server.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };
  const request = (method: string, params: unknown) =>
    new Promise<{ result?: unknown; error?: { message: string } }>((resolve) => {
      const id = next++;
      waiting.set(id, resolve as (v: unknown) => void);
      send({ id, method, params });
    });
  const uri = 'file:///tmp/car.coffee';
  const init = (await request('initialize', { processId: null, rootUri: null, capabilities: {} })) as { result: { capabilities: { executeCommandProvider: { commands: string[] } } } };
  assert.ok(init.result.capabilities.executeCommandProvider.commands.includes('pencil.askTeacher'));
  assert.ok(init.result.capabilities.executeCommandProvider.commands.includes(C.REFLECT_COMMAND));
  send({ method: 'initialized', params: {} });
  send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'coffeescript', version: 1, text: 'fd 100\n' } } });
  const asked = await request('workspace/executeCommand', { command: 'pencil.askTeacher', arguments: C.askTeacherArgs(uri, 'help', true) });
  await request('shutdown', null);
  send({ method: 'exit' });
  await new Promise((resolve) => server.on('exit', resolve));
  return asked;
}

test('outside a class, the real pencil-lsp says so for show, hands and ask', { skip: !existsSync(BIN) ? `needs ${BIN}` : false }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pencil-class-'));
  try {
    const o = { dataDir: path.join(dir, 'store') };
    const tool = (args: string[]) => {
      const r = spawnSync(BIN, args, { env: { ...process.env, RUST_BACKTRACE: '0' } });
      if (r.status !== 0) throw new Error(toolError(r.stderr.toString(), `exit ${r.status}`));
      return r.stdout.toString();
    };
    const show = tool(C.classArgs.show(o));
    assert.ok(C.notInClass(show), show);
    assert.match(tool(C.classArgs.hands(o)), /^Not in a class/);
    assert.throws(() => tool(C.classArgs.join('ZZZZZZ', 'http://hub.school.example', 'Grace', o)), /unencrypted/);
    const asked = await askServer(o.dataDir);
    assert.match(asked.error?.message ?? JSON.stringify(asked), /not in a class/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
