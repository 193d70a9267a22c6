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

/** `research study show FILE --json`, as pencil-lsp writes it (before consent). */
const SHOW = {
  study: {
    version: 1, id: 'loops', title: 'How students learn loops (part 2)', institution: 'Example University', ethics_approval: 'IRB-2024-117',
    contact: 'research@example.edu', researcher_key: 'fRnr9a1KZGo9x+uNjj09pxiZX6NZFAaEyjyIePJDq1E=',
    collects: { programs: 'full', timestamps: 'minute', hints: false }, retention_days: 365,
    consent: { version: '2 (b)', text: 'We would like to see how your programs change.\nYou can stop at any time.', guardian_below_age: 16 },
  },
  source: 'file',
  researcher_key_fingerprint: '0a42 76b9 5865 7db3 58d3 d40f 6742 acb2',
  pinned_now: true,
  first_seen: '2026-12-06 22:28:42',
  consent: null,
};

test('research calls carry the store and, for preview and upload alike, the name lists', () => {
  const o = { dataDir: '/d', namesDir: '/n' };
  assert.deepEqual(R.researchArgs.list({}), ['research', 'study', 'list', '--json']);
  assert.deepEqual(R.researchArgs.show('loops', o), ['research', 'study', 'show', 'loops', '--json', '--data-dir', '/d']);
  assert.deepEqual(R.researchArgs.show('/home/s/study.json', {}), ['research', 'study', 'show', '/home/s/study.json', '--json']);
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

const RECEIPT = {
  id: 'ebb8', study_id: 'loops', study_digest: 'e314', consent_version: '2',
  scope_json: '{"programs":"full","timestamps":"minute","hints":true}', consented_by: 'parent', consented_at: '2026-12-06 22:05:13',
  after_state_id: 0, after_hint_id: 0, sent_state_id: 0, sent_hint_id: 0, uploads: 1, subject_id: null, revoked_at: null,
};

test("a study's JSON gives its id, title, age rule and consent, and reads as words", () => {
  const s = R.parseStudyShow(JSON.stringify(SHOW));
  assert.equal(s.id, 'loops');
  assert.equal(s.title, 'How students learn loops (part 2)');
  assert.equal(s.guardianBelowAge, 16);
  assert.equal(s.consentVersion, '2 (b)');
  assert.equal(s.consent, null);
  assert.equal(s.source, 'file');
  const text = R.studyText(s);
  assert.match(text, /^Study "loops": How students learn loops \(part 2\)\n/);
  assert.match(text, /Ethics approval: IRB-2024-117/);
  assert.match(text, /Collects: every version of each program you run, times rounded to the minute, no hints; names/);
  assert.match(text, /keep it for: 365 days/);
  assert.match(text, /signature checks out/);
  assert.match(text, /fingerprint: 0a42 76b9 5865 7db3 58d3 d40f 6742 acb2/);
  assert.match(text, /Consent text, version 2 \(b\) \(students under 16 need a parent's or the school's consent\):\n  We would like to see how your programs change\.\n  You can stop at any time\./);
  assert.match(text, /Your consent: not given\.\n$/);
  assert.doesNotMatch(text, /pencil-lsp/, 'no command lines for the student');

  const given = R.parseStudyShow(JSON.stringify({ ...SHOW, pinned_now: false, source: 'class', study: { ...SHOW.study, consent: { ...SHOW.study.consent, guardian_below_age: 0 } }, consent: RECEIPT }));
  assert.equal(given.guardianBelowAge, 0);
  assert.equal(given.consent?.consented_by, 'parent');
  assert.match(R.studyText(given), /anyone may consent for themselves/);
  assert.match(R.studyText(given), /Your consent: given by your parent on 2026-12-06 22:05:13 UTC \(consent text version 2\)\./);
  assert.match(R.studyText(given), /offered by your class/);

  assert.throws(() => R.parseStudyShow('Study "loops": Loops\n'), /something other than a study/);
  assert.throws(() => R.parseStudyShow(JSON.stringify({ ...SHOW, study: { ...SHOW.study, consent: { version: '2', text: 'x' } } })), /without a field/);
  assert.throws(() => R.parseStudyShow(JSON.stringify({ ...SHOW, consent: { id: 'x' } })), /missing a field/);
});

test('the study list reads offered, kept and refused studies, and the picker shows the readable ones', () => {
  const listed = R.parseStudyList(JSON.stringify([
    { id: 'loops', status: 'offered', title: 'Loops (and more)', institution: 'Example University', collects: 'the final version of each program, dates only, no hints', refused: null, consent_given: false },
    { id: 'old', status: 'kept', title: 'Old study', institution: 'EU', collects: 'x', refused: null, consent_given: true },
    { id: 'evil', status: 'refused', title: null, institution: null, collects: null, refused: 'the offer is not signed by your teacher', consent_given: false },
  ]));
  assert.deepEqual(listed.map((l) => [l.id, l.status, l.consentGiven]), [['loops', 'offered', false], ['old', 'kept', true], ['evil', 'refused', false]]);
  assert.equal(listed[2].refused, 'the offer is not signed by your teacher');
  const picks = R.studyPicks(listed);
  assert.deepEqual(picks.map((p) => p.id), ['loops', 'old', undefined]);
  assert.equal(picks[0].label, 'Loops (and more)');
  assert.equal(picks[0].description, 'loops · Example University · offered by your class');
  assert.equal(picks[1].description, 'old · EU · kept on this machine · you consented');
  assert.deepEqual(R.studyPicks([]).map((p) => p.id), [undefined]);
  assert.deepEqual(R.parseStudyList('[]'), []);
  assert.throws(() => R.parseStudyList('Not in a class: ...\n'), /something other than a list of studies/);
  assert.throws(() => R.parseStudyList(JSON.stringify([{ id: 'x', status: 'maybe' }])), /missing a field/);
});

test('receipts come from --json, are checked, and read as sentences', () => {
  const rs = R.parseReceipts(JSON.stringify([RECEIPT, { ...RECEIPT, study_id: 'old', revoked_at: '2026-12-07 08:00:00' }]));
  assert.equal(rs.length, 2);
  assert.deepEqual(R.inForce(rs).map((r) => r.study_id), ['loops']);
  const text = R.receiptsText(rs);
  assert.match(text, /Study "loops": consent text version 2, given by your parent on 2026-12-06 22:05:13 UTC/);
  assert.match(text, /every version of each program you run, times rounded to the minute, which hints you were shown and whether you took them/);
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
  assert.equal(R.needsAge('student', 0), false);
  assert.equal(R.needsAge('parent', 16), false);
  assert.equal(R.ageProblem('14'), undefined);
  assert.ok(R.ageProblem('fourteen'));
  assert.ok(R.ageProblem('-3'));
  assert.ok(R.ageProblem('1400'));
  assert.match(R.tooYoung(13, 16) ?? '', /under 16 .* parent/);
  assert.equal(R.tooYoung(16, 16), undefined);
  assert.equal(R.tooYoung(5, 0), undefined);
  assert.match(R.consentQuestion({ title: 'Loops' }, 'school'), /as your school to the study "Loops"/);
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
    const list = () => R.parseStudyList(tool(R.researchArgs.list(o)).stdout.toString());
    assert.deepEqual(list(), [], 'not in a class and nothing kept: an empty list, not an error');
    const study = R.parseStudyShow(tool(R.researchArgs.show(studyFile, o)).stdout.toString());
    assert.deepEqual([study.id, study.guardianBelowAge, study.consentVersion, study.consent, study.source, study.pinnedNow], ['loops', 16, '3', null, 'file', true]);
    assert.match(R.studyText(study), /Consent text, version 3 \(students under 16 need a parent's or the school's consent\):\n  We would like to see how your programs change\.\n  You can stop at any time\./);
    assert.deepEqual(R.studyPicks(list()).map((p) => [p.id, p.description]), [['loops', 'loops · Example University · kept on this machine'], [undefined, 'a signed study document (.json) from the researchers']]);
    assert.throws(() => tool(R.researchArgs.consent('loops', 'student', 13, o)), /cannot consent to this study themselves/);
    assert.match(tool(R.researchArgs.consent('loops', 'student', 16, o)).stdout.toString(), /^Consent recorded/);
    const shownAgain = R.parseStudyShow(tool(R.researchArgs.show('loops', o)).stdout.toString());
    assert.deepEqual([shownAgain.pinnedNow, shownAgain.consent?.consented_by, shownAgain.consent?.consent_version], [false, 'student', '3']);
    assert.match(R.studyText(shownAgain), /Your consent: given by you on .* UTC \(consent text version 3\)\./);
    assert.deepEqual(list().map((l) => [l.id, l.status, l.consentGiven]), [['loops', 'kept', true]]);
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
    assert.equal(R.parseStudyShow(tool(R.researchArgs.show('loops', o)).stdout.toString()).consent, null, 'withdrawn: no consent in force');
    assert.deepEqual(list().map((l) => [l.id, l.consentGiven]), [['loops', false]]);
    assert.throws(() => tool(R.researchArgs.preview('loops', o)), /no consent to study 'loops' is in force/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

