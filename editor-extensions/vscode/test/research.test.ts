// Tests of the research commands' argument building and reading (no VS Code
// needed): node --test. The last test runs the same calls against the real
// `pencil-lsp` (target/debug or $PENCIL_LSP), with a study signed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as R from '../src/research';

const bytes = (s: string) => new TextEncoder().encode(s);

const SHOW = `The signature verifies; the researcher key is now pinned for study 'loops'.
Study "loops": How students learn loops (part 2)
Institution: Example University
Ethics approval: IRB-2024-117
Contact: research@example.edu
Collects: every version of each program you run (full traces), times rounded to the minute, no hints; names, e-mail addresses, phone numbers and addresses are removed first
Collection starts when you consent; nothing recorded before leaves this machine.
Kept for: 365 days
Researcher key: fRnr9a1KZGo9x+uNjj09pxiZX6NZFAaEyjyIePJDq1E= (fingerprint 0a42 76b9 5865 7db3 58d3 d40f 6742 acb2)
Trusted because: read from a file: this researcher key was pinned the first time this study was seen
Consent text, version 2 (b) (students under 16 need a parent's or the school's consent):
  We would like to see how your programs change.
Your consent: not given. To consent: pencil-lsp research consent --study loops --by student|parent|school
`;

test('research calls carry the store and, for preview and upload alike, the name lists', () => {
  const o = { dataDir: '/d', namesDir: '/n' };
  assert.deepEqual(R.researchArgs.list({}), ['research', 'study', 'list']);
  assert.deepEqual(R.researchArgs.show('loops', o), ['research', 'study', 'show', 'loops', '--data-dir', '/d']);
  assert.deepEqual(R.researchArgs.show('/home/s/study.json', {}), ['research', 'study', 'show', '/home/s/study.json']);
  assert.deepEqual(R.researchArgs.show('C:\\Users\\s\\study.json', {})[3], 'C:\\Users\\s\\study.json');
  assert.deepEqual(R.researchArgs.consent('loops', 'student', 17, o), [
    'research', 'consent', '--study', 'loops', '--by', 'student', '--age', '17', '--yes', '--data-dir', '/d',
  ]);
  assert.deepEqual(R.researchArgs.consent('loops', 'parent', undefined, {}), ['research', 'consent', '--study', 'loops', '--by', 'parent', '--yes']);
  assert.deepEqual(R.researchArgs.receipts(o), ['research', 'receipts', '--json', '--data-dir', '/d']);
  assert.deepEqual(R.researchArgs.revoke('loops', {}), ['research', 'revoke', '--study', 'loops']);
  const preview = R.researchArgs.preview('loops', o);
  const upload = R.researchArgs.upload('loops', 'ab'.repeat(32), o);
  assert.deepEqual(preview, ['research', 'preview', '--study', 'loops', '--names', '/n', '--data-dir', '/d']);
  assert.deepEqual(upload, ['research', 'upload', '--study', 'loops', '--expect-sha256', 'ab'.repeat(32), '--names', '/n', '--data-dir', '/d']);
});

test('what is not a study id or a hash never reaches the command line', () => {
  for (const bad of ['', '--yes', 'Loops', 'a b', 'study.json', '../x', 'x'.repeat(65)]) {
    assert.throws(() => R.researchArgs.show(bad, {}), /not a study id/, bad);
    assert.throws(() => R.researchArgs.revoke(bad, {}), /not a study id/, bad);
  }
  assert.throws(() => R.researchArgs.upload('loops', 'AB'.repeat(32), {}), /SHA-256/);
  assert.throws(() => R.researchArgs.upload('loops', 'ab', {}), /SHA-256/);
});

test("a study's description gives its id, title, age rule and whether consent is in force", () => {
  const s = R.parseStudyShow(SHOW);
  assert.ok(s);
  assert.equal(s.id, 'loops');
  assert.equal(s.title, 'How students learn loops (part 2)');
  assert.equal(s.guardianBelowAge, 16);
  assert.equal(s.consentVersion, '2 (b)');
  assert.equal(s.consented, false);
  assert.doesNotMatch(s.text, /pencil-lsp research consent/, 'the command-line hint is not for the editor');
  assert.match(s.text, /We would like to see how your programs change\./);
  const anyone = R.parseStudyShow(SHOW.replace(/\(students under 16 need [^)]*\)/, '(anyone may consent for themselves)').replace(/Your consent: .*/, 'Your consent: given 2026-01-01 10:00:00 UTC by parent (consent text version 2).'));
  assert.equal(anyone?.guardianBelowAge, 0);
  assert.equal(anyone?.consented, true);
  const unread = R.parseStudyShow('Study "x": X\nConsent text in a new wording:\n');
  assert.equal(unread?.guardianBelowAge, null);
  assert.equal(unread?.consented, null);
  assert.equal(R.parseStudyShow('Your class offers no studies.\n'), undefined);
});

test('the class list reads offered and refused studies, titles with parentheses included', () => {
  const l = R.parseStudyList(
    'loops: Loops (and more) (Example University): collects the final version of each program, dates only, no hints; names ... first\n' +
      'evil: REFUSED: the study was refused: the offer is not signed by your teacher\n',
  );
  assert.deepEqual(l.offered, [{ id: 'loops', title: 'Loops (and more)', institution: 'Example University', collects: 'the final version of each program, dates only, no hints; names ... first' }]);
  assert.deepEqual(l.refused, [{ id: 'evil', why: 'the study was refused: the offer is not signed by your teacher' }]);
  assert.deepEqual(R.parseStudyList('Your class offers no studies.\n'), { offered: [], refused: [] });
});

const RECEIPT = {
  id: 'ebb8', study_id: 'loops', study_digest: 'e314', consent_version: '2',
  scope_json: '{"programs":"full","timestamps":"minute","hints":true}', consented_by: 'parent', consented_at: '2026-12-06 22:05:13',
  after_state_id: 0, after_hint_id: 0, sent_state_id: 0, sent_hint_id: 0, uploads: 1, subject_id: null, revoked_at: null,
};

test('receipts come from --json, are checked, and read as sentences', () => {
  const rs = R.parseReceipts(JSON.stringify([RECEIPT, { ...RECEIPT, study_id: 'old', revoked_at: '2026-12-07 08:00:00' }]));
  assert.equal(rs.length, 2);
  assert.deepEqual(R.inForce(rs).map((r) => r.study_id), ['loops']);
  const text = R.receiptsText(rs);
  assert.match(text, /Study "loops": consent text version 2, given by your parent on 2026-12-06 22:05:13 UTC/);
  assert.match(text, /every version of each program you run, times rounded to the minute, which hints you were shown/);
  assert.match(text, /Withdrawn on 2026-12-07 08:00:00 UTC/);
  assert.equal(R.receiptsText([]), 'You have not consented to any research study.\n');
  assert.throws(() => R.parseReceipts('Receipt ebb8: ...'), /list of receipts/);
  assert.throws(() => R.parseReceipts(JSON.stringify([{ ...RECEIPT, study_id: 3 }])), /missing a field/);
  assert.equal(R.scopeWords('{"programs":"sometimes"}'), '{"programs":"sometimes"}');
});

test('who consents, and the age asked only when the student consents to a study with an age rule', () => {
  assert.deepEqual(R.whoChoices(16).map((c) => c.by), ['student', 'parent', 'school']);
  assert.equal(R.whoChoices(16)[1].description, 'for students under 16');
  assert.equal(R.whoChoices(0)[0].description, undefined);
  assert.equal(R.needsAge('student', 16), true);
  assert.equal(R.needsAge('student', null), true, 'a rule this cannot read is asked about, the CLI decides');
  assert.equal(R.needsAge('student', 0), false);
  assert.equal(R.needsAge('parent', 16), false);
  assert.equal(R.ageProblem('14'), undefined);
  assert.ok(R.ageProblem('fourteen'));
  assert.ok(R.ageProblem('-3'));
  assert.ok(R.ageProblem('1400'));
  assert.match(R.tooYoung(13, 16) ?? '', /under 16 .* parent/);
  assert.equal(R.tooYoung(16, 16), undefined);
  assert.match(R.consentQuestion({ id: 'loops', title: 'Loops', guardianBelowAge: 16, consentVersion: '2', consented: false, text: '' }, 'school'), /as your school to the study "Loops"/);
});

test('a preview is the exact bytes with their own SHA-256, which must match what pencil-lsp named', () => {
  const body = bytes('{"format":1,"upload_id":"r-1","traces":[{"title":"café"}]}');
  const sha = R.sha256Hex(body);
  const stderr = `\nThat is upload r-1 of study 'loops': ${body.length} bytes, sha256 ${sha}.\nSend exactly these bytes with: ...\n`;
  const p = R.parsePreview(body, stderr);
  assert.equal(p.kind, 'upload');
  if (p.kind !== 'upload') return;
  assert.equal(p.text, '{"format":1,"upload_id":"r-1","traces":[{"title":"café"}]}');
  assert.equal(p.sha256, sha);
  assert.equal(p.bytes, body.length);
  assert.equal(p.uploadId, 'r-1');
  assert.equal(p.queued, false);
  assert.match(R.previewSummary('loops', p), new RegExp(`${body.length} bytes, SHA-256 ${sha}\\. Nothing has been sent`));
  assert.throws(() => R.parsePreview(body, stderr.replace(sha, '0'.repeat(64))), /do not match/);
  assert.throws(() => R.parsePreview(new Uint8Array([0xff, 0xfe]), ''), /not text/);
  const nothing = R.parsePreview(new Uint8Array(0), "Nothing to send for study 'loops': nothing was recorded since consent or the last upload.\n");
  assert.deepEqual(nothing, { kind: 'nothing', message: "Nothing to send for study 'loops': nothing was recorded since consent or the last upload." });
});

test("pencil-lsp's errors keep their words and lose the backtrace", () => {
  const stderr = 'Error: no study \'x\' on this machine; read it first\n\nStack backtrace:\n   0: from<...>\n';
  assert.equal(R.toolError(stderr, 'failed'), "no study 'x' on this machine; read it first");
  assert.equal(R.toolError('Error: nothing can be sent without the scrub: cannot read names\n\nCaused by:\n    0: x\n', 'f'), 'nothing can be sent without the scrub: cannot read names');
  assert.equal(R.toolError('', 'Command failed'), 'Command failed');
});

test('the picker lists offered studies, then consented ones, then a file', () => {
  const picks = R.studyPicks([{ id: 'loops', title: 'Loops', institution: 'EU', collects: 'x' }], R.parseReceipts(JSON.stringify([RECEIPT, { ...RECEIPT, study_id: 'old' }])));
  assert.deepEqual(picks.map((p) => p.id), ['loops', 'old', undefined]);
  assert.match(picks[0].description ?? '', /you consented/);
});

// ---- against the real pencil-lsp ----

const REPO = path.resolve(__dirname, '../../../..');
const BIN = process.env.PENCIL_LSP ?? path.join(REPO, 'target/debug/pencil-lsp');
const NAMES = process.env.PENCIL_NAMES_DIR ?? path.join(REPO, '.deps/names');

/** A study document signed with a fresh ed25519 key, as `pencil_core::research::sign_study` signs. */
function signedStudy(id: string, guardianBelowAge: number): string {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const study = {
    version: 1, id, title: 'How students learn loops', institution: 'Example University', ethics_approval: 'IRB-2024-117',
    contact: 'research@example.edu', researcher_key: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
    collects: { programs: 'full', timestamps: 'minute', hints: false }, retention_days: 365,
    consent: { version: '3', text: 'We would like to see how your programs change.\nYou can stop at any time.', guardian_below_age: guardianBelowAge },
  };
  const signature = sign(null, bytes('pencil-study-v1\n' + JSON.stringify(study)), privateKey).toString('base64');
  return JSON.stringify({ study, signature }, null, 2);
}

/** Records one run of `code` the way the editor does: pencil-lsp over stdio, didOpen, pencil/run. */
async function recordRun(dataDir: string, file: string, code: string): Promise<void> {
  const server = spawn(BIN, ['--data-dir', dataDir], { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, RUST_BACKTRACE: '0' } });
  // One char per byte (latin1), so Content-Length counts what it should.
  let buffer = '';
  const waiting = new Map<number, (v: unknown) => void>();
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
  const uri = `file://${file}`;
  await request('initialize', { processId: null, rootUri: null, capabilities: {} });
  send({ method: 'initialized', params: {} });
  send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'coffeescript', version: 1, text: code } } });
  const run = await request('pencil/run', { textDocument: { uri } });
  assert.ok(run.result, `pencil/run failed: ${run.error?.message}`);
  await request('shutdown', null);
  send({ method: 'exit' });
  await new Promise((resolve) => server.on('exit', resolve));
}

test('consent, preview, send and withdraw against the real pencil-lsp', { skip: !existsSync(BIN) || !existsSync(NAMES) ? `needs ${BIN} and ${NAMES}` : false }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pencil-research-'));
  try {
    const o = { dataDir: path.join(dir, 'store'), namesDir: NAMES };
    const tool = (args: string[]) => {
      const r = spawnSync(BIN, args, { env: { ...process.env, RUST_BACKTRACE: '0' } });
      if (r.status !== 0) throw new Error(R.toolError(r.stderr.toString(), `exit ${r.status}`));
      return { stdout: r.stdout, stderr: r.stderr.toString() };
    };
    const studyFile = path.join(dir, 'study.json');
    writeFileSync(studyFile, signedStudy('loops', 16));
    const study = R.parseStudyShow(tool(R.researchArgs.show(studyFile, o)).stdout.toString());
    assert.deepEqual([study?.id, study?.guardianBelowAge, study?.consentVersion, study?.consented], ['loops', 16, '3', false]);
    assert.throws(() => tool(R.researchArgs.consent('loops', 'student', 13, o)), /cannot consent to this study themselves/);
    assert.match(tool(R.researchArgs.consent('loops', 'student', 16, o)).stdout.toString(), /^Consent recorded/);
    assert.equal(R.parseStudyShow(tool(R.researchArgs.show('loops', o)).stdout.toString())?.consented, true);
    const [receipt] = R.parseReceipts(tool(R.researchArgs.receipts(o)).stdout.toString());
    assert.deepEqual([receipt.study_id, receipt.consented_by, receipt.consent_version, receipt.revoked_at], ['loops', 'student', '3', null]);
    const previewOf = () => {
      const out = tool(R.researchArgs.preview('loops', o));
      return R.parsePreview(new Uint8Array(out.stdout), out.stderr);
    };
    assert.equal(previewOf().kind, 'nothing', 'nothing recorded since consent');

    await recordRun(o.dataDir, path.join(dir, 'square.coffee'), 'pen red\nfor [1..4]\n  fd 100\n  rt 90\n');
    const shown = previewOf();
    assert.equal(shown.kind, 'upload');
    if (shown.kind !== 'upload') return;
    assert.match(shown.text, /fd 100/);
    assert.throws(() => tool(R.researchArgs.upload('loops', 'a'.repeat(64), o)), /changed since the preview .*; nothing was sent/);
    const sent = tool(R.researchArgs.upload('loops', shown.sha256, o)).stdout.toString();
    // Not in a class: the exact bytes wait in the outbox, and the next preview shows those same bytes.
    assert.match(sent, new RegExp(`Upload ${shown.uploadId} is queued`));
    const again = previewOf();
    assert.equal(again.kind === 'upload' && again.sha256, shown.sha256);

    assert.match(tool(R.researchArgs.revoke('loops', o)).stdout.toString(), /withdrawn/);
    assert.equal(R.inForce(R.parseReceipts(tool(R.researchArgs.receipts(o)).stdout.toString())).length, 0);
    assert.throws(() => tool(R.researchArgs.preview('loops', o)), /no consent to study 'loops' is in force/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

