// Research studies in the editor: the `pencil-lsp research ...` command lines the
// extension runs and the reading of their answers, as plain functions (no VS Code
// here; `researchCommands.ts` is the UI). The CLI owns every decision that
// matters (signatures, the age rule, scrubbing, what is sent); this module only
// builds its arguments and reads what it says.
//
// Where the CLI has machine-readable output (`receipts --json`) it is used;
// `study show`, `study list` and `preview`'s details are text, read by the
// parsers below (and checked against the real binary in test/research.test.ts).
import { createHash } from 'node:crypto';

export type ConsentBy = 'student' | 'parent' | 'school';

/** Options every research call gets the same way (so preview and upload scrub alike). */
export interface ResearchOptions {
  /** `--data-dir`: the coach's store (pencilCoach.data.dir). */
  dataDir?: string | null;
  /** `--names`: the folder with the published name lists the scrub needs (pencilCoach.research.namesDir). */
  namesDir?: string | null;
}

/** A study id as the CLI accepts it: 1 to 64 characters of a-z, 0-9 and '-'. */
export function isStudyId(id: string): boolean {
  return /^[a-z0-9-]{1,64}$/.test(id) && !id.startsWith('-');
}

function studyId(id: string): string {
  if (!isStudyId(id)) throw new Error(`"${id}" is not a study id (a study id is made of a-z, 0-9 and '-')`);
  return id;
}

function dataDir(o: ResearchOptions): string[] {
  return o.dataDir ? ['--data-dir', o.dataDir] : [];
}

function names(o: ResearchOptions): string[] {
  return o.namesDir ? ['--names', o.namesDir] : [];
}

/** The argument lists of `pencil-lsp research ...` (after the binary). */
export const researchArgs = {
  list: (o: ResearchOptions) => ['research', 'study', 'list', ...dataDir(o)],
  /** A study id, or the absolute path of a study file (a relative one could read as an option). */
  show: (idOrFile: string, o: ResearchOptions) => {
    const absolute = idOrFile.startsWith('/') || /^[A-Za-z]:[\\/]/.test(idOrFile) || idOrFile.startsWith('\\\\');
    return ['research', 'study', 'show', absolute ? idOrFile : studyId(idOrFile), ...dataDir(o)];
  },
  consent: (id: string, by: ConsentBy, age: number | undefined, o: ResearchOptions) => [
    'research', 'consent', '--study', studyId(id), '--by', by,
    ...(age === undefined ? [] : ['--age', String(age)]),
    '--yes', ...dataDir(o),
  ],
  revoke: (id: string, o: ResearchOptions) => ['research', 'revoke', '--study', studyId(id), ...dataDir(o)],
  receipts: (o: ResearchOptions) => ['research', 'receipts', '--json', ...dataDir(o)],
  preview: (id: string, o: ResearchOptions) => ['research', 'preview', '--study', studyId(id), ...names(o), ...dataDir(o)],
  /** Sends only if the bytes still have the SHA-256 the student was shown. */
  upload: (id: string, sha256: string, o: ResearchOptions) => {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('the preview has no valid SHA-256, so nothing can be sent');
    return ['research', 'upload', '--study', studyId(id), '--expect-sha256', sha256, ...names(o), ...dataDir(o)];
  },
};

/**
 * The words of a failed pencil-lsp call: its error without the "Error: " prefix,
 * the causes or a Rust backtrace (shown when RUST_BACKTRACE is set).
 */
export function toolError(stderr: string, fallback: string): string {
  const cut = stderr.split(/\n\s*\n(?:Caused by:|Stack backtrace:)/)[0];
  const lines = cut.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const error = lines.findIndex((l) => l.startsWith('Error: '));
  const words = (error >= 0 ? lines.slice(error) : lines).join('\n').replace(/^Error: /, '').trim();
  return words || fallback;
}

/** A study the class's hub offers (`study list`), or one it offered that was refused. */
export interface OfferedStudy {
  id: string;
  title: string;
  institution: string;
  collects: string;
}

export interface StudyList {
  offered: OfferedStudy[];
  /** Studies the hub offered whose signatures did not verify, with why. */
  refused: { id: string; why: string }[];
}

/** Reads `research study list`: `ID: TITLE (INSTITUTION): collects WHAT` or `ID: REFUSED: WHY` per line. */
export function parseStudyList(stdout: string): StudyList {
  const out: StudyList = { offered: [], refused: [] };
  for (const line of stdout.split('\n')) {
    const refused = /^([a-z0-9-]+): REFUSED: (.*)$/.exec(line);
    if (refused) {
      out.refused.push({ id: refused[1], why: refused[2] });
      continue;
    }
    // The title may hold parentheses; the institution is the last group before ": collects".
    const m = /^([a-z0-9-]+): (.*) \(([^()]*)\): collects (.*)$/.exec(line);
    if (m) out.offered.push({ id: m[1], title: m[2], institution: m[3], collects: m[4] });
  }
  return out;
}

/** What the extension needs from `research study show` (the whole text is shown as it is). */
export interface StudyInfo {
  id: string;
  title: string;
  /** Students under this age need a parent's or the school's consent; 0: anyone; null: not stated in a way this reads. */
  guardianBelowAge: number | null;
  consentVersion: string | null;
  /** Whether consent is in force now; null if the output does not say. */
  consented: boolean | null;
  /** The description without the CLI's own hints (lines naming `pencil-lsp` commands). */
  text: string;
}

/** Reads `research study show`; undefined when the output names no study. */
export function parseStudyShow(stdout: string): StudyInfo | undefined {
  const lines = stdout.split('\n');
  let head: RegExpExecArray | null = null;
  for (const l of lines) if (!head) head = /^Study "([a-z0-9-]+)": (.*)$/.exec(l);
  if (!head) return undefined;
  let guardianBelowAge: number | null = null;
  let consentVersion: string | null = null;
  let consented: boolean | null = null;
  for (const l of lines) {
    const c = /^Consent text, version (.+) \((anyone may consent for themselves|students under (\d+) need [^()]*)\):$/.exec(l);
    if (c) {
      consentVersion = c[1];
      guardianBelowAge = c[3] === undefined ? 0 : Number(c[3]);
    }
    if (l.startsWith('Your consent: given')) consented = true;
    else if (l.startsWith('Your consent: not given')) consented = false;
  }
  const text = lines
    .map((l) => (l.startsWith('Your consent: not given') ? 'Your consent: not given.' : l))
    .join('\n')
    .trimEnd();
  return { id: head[1], title: head[2], guardianBelowAge, consentVersion, consented, text: text + '\n' };
}

/** A consent receipt as `research receipts --json` writes it. */
export interface Receipt {
  id: string;
  study_id: string;
  study_digest: string;
  consent_version: string;
  scope_json: string;
  consented_by: string;
  consented_at: string;
  uploads: number;
  subject_id: string | null;
  revoked_at: string | null;
}

/** Reads `research receipts --json`; throws if it is not the list of receipts it should be. */
export function parseReceipts(stdout: string): Receipt[] {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    throw new Error('pencil-lsp answered something other than a list of receipts (is it too old?)');
  }
  if (!Array.isArray(value)) throw new Error('pencil-lsp answered something other than a list of receipts');
  return value.map((r) => {
    const ok =
      r && typeof r === 'object' &&
      ['id', 'study_id', 'study_digest', 'consent_version', 'scope_json', 'consented_by', 'consented_at'].every((k) => typeof r[k] === 'string') &&
      typeof r.uploads === 'number' &&
      (r.subject_id === null || typeof r.subject_id === 'string') &&
      (r.revoked_at === null || typeof r.revoked_at === 'string');
    if (!ok) throw new Error('a consent receipt from pencil-lsp is missing a field');
    return {
      id: r.id, study_id: r.study_id, study_digest: r.study_digest, consent_version: r.consent_version, scope_json: r.scope_json,
      consented_by: r.consented_by, consented_at: r.consented_at, uploads: r.uploads, subject_id: r.subject_id, revoked_at: r.revoked_at,
    };
  });
}

/** The studies whose consent is in force (the ones there is something to preview, send or withdraw). */
export function inForce(receipts: Receipt[]): Receipt[] {
  return receipts.filter((r) => r.revoked_at === null);
}

const WHO: Record<string, string> = { student: 'you', parent: 'your parent', school: 'your school' };

/** Receipts in words, newest last, for a read-only document. */
export function receiptsText(receipts: Receipt[]): string {
  if (receipts.length === 0) return 'You have not consented to any research study.\n';
  const out: string[] = ['Your consent receipts', ''];
  for (const r of receipts) {
    out.push(`Study "${r.study_id}": consent text version ${r.consent_version}, given by ${WHO[r.consented_by] ?? r.consented_by} on ${r.consented_at} UTC`);
    out.push(r.revoked_at ? `  Withdrawn on ${r.revoked_at} UTC: nothing more is collected.` : '  In force: your programs from that moment on can be sent to this study.');
    out.push(`  What it collects: ${scopeWords(r.scope_json)}`);
    out.push(`  Uploads so far: ${r.uploads}`);
    out.push(`  Your pseudonym in the study: ${r.subject_id ?? '(not given yet: the class hub answers it at the first upload)'}`);
    out.push(`  Receipt ${r.id}; study document SHA-256 ${r.study_digest}`);
    out.push('');
  }
  return out.join('\n');
}

/** A receipt's scope (the study's `collects`, as JSON) in words; the JSON itself if it does not read. */
export function scopeWords(scopeJson: string): string {
  try {
    const s = JSON.parse(scopeJson) as { programs?: string; timestamps?: string; hints?: boolean };
    const programs = s.programs === 'final' ? 'the final version of each program' : s.programs === 'full' ? 'every version of each program you run' : undefined;
    const times: Record<string, string> = { exact: 'exact times', minute: 'times rounded to the minute', hour: 'times rounded to the hour', day: 'dates only' };
    const time = s.timestamps ? times[s.timestamps] : undefined;
    if (!programs || !time || typeof s.hints !== 'boolean') return scopeJson;
    return `${programs}, ${time}, ${s.hints ? 'which hints you were shown' : 'no hints'}`;
  } catch {
    return scopeJson;
  }
}

/** One choice in "who consents?". */
export interface WhoChoice {
  by: ConsentBy;
  label: string;
  description?: string;
}

/** Who may consent, in the words a student reads. */
export function whoChoices(guardianBelowAge: number | null): WhoChoice[] {
  const young = guardianBelowAge ? `for students under ${guardianBelowAge}` : undefined;
  return [
    { by: 'student', label: 'Me', description: guardianBelowAge ? `if you are ${guardianBelowAge} or older` : undefined },
    { by: 'parent', label: 'My parent or guardian', description: young },
    { by: 'school', label: 'My school', description: young },
  ];
}

/** Whether to ask the student's age: only when the student consents to a study with an age rule (or one this cannot read). */
export function needsAge(by: ConsentBy, guardianBelowAge: number | null): boolean {
  return by === 'student' && guardianBelowAge !== 0;
}

/** Checks a typed age: undefined if it is fine, else what to say. */
export function ageProblem(text: string): string | undefined {
  const t = text.trim();
  if (!/^\d{1,3}$/.test(t) || Number(t) < 3 || Number(t) > 120) return 'Type your age as a number, like 14.';
  return undefined;
}

/** What to tell a student who is too young to consent alone; undefined if the age is enough. */
export function tooYoung(age: number, guardianBelowAge: number | null): string | undefined {
  if (!guardianBelowAge || age >= guardianBelowAge) return undefined;
  return `This study asks students under ${guardianBelowAge} to have a parent, a guardian or the school consent for them. Nothing was recorded. You can ask them to choose "My parent or guardian" or "My school".`;
}

/** The last question before consent is recorded. */
export function consentQuestion(study: StudyInfo, by: ConsentBy): string {
  const who = by === 'student' ? 'yourself' : by === 'parent' ? 'as your parent or guardian' : 'as your school';
  return (
    `Consent ${who} to the study "${study.title}"?\n\n` +
    'From now on, the programs you run are kept for this study, with names, e-mail addresses and the like removed. ' +
    'Nothing you wrote before now is included, and nothing is sent until you look at it and press Send. ' +
    'You can withdraw at any time.'
  );
}

/** What `research preview` showed: the exact bytes, or that there is nothing to send. */
export type Preview =
  | { kind: 'nothing'; message: string }
  | { kind: 'upload'; text: string; bytes: number; sha256: string; uploadId: string | null; queued: boolean };

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads `research preview`: stdout is exactly the bytes, stderr the details. The
 * SHA-256 is computed here from the bytes themselves and must match the one the
 * CLI names, so the hash that `upload --expect-sha256` checks is the hash of what
 * the student saw.
 */
export function parsePreview(stdout: Uint8Array, stderr: string): Preview {
  if (stdout.length === 0) {
    const said = stderr.split('\n').find((l) => l.startsWith('Nothing to send'));
    return { kind: 'nothing', message: said ?? 'Nothing to send: nothing was recorded since you consented or since the last upload.' };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(stdout);
  } catch {
    throw new Error('the preview is not text, so it cannot be shown as it is; nothing was sent');
  }
  const sha256 = sha256Hex(stdout);
  const d = /That is upload (\S+) of study '[^']*': (\d+) bytes, sha256 ([0-9a-f]{64})(, built earlier and queued)?/.exec(stderr);
  if (d && (d[3] !== sha256 || Number(d[2]) !== stdout.length)) {
    throw new Error('the preview bytes do not match the SHA-256 pencil-lsp named; nothing was sent');
  }
  return { kind: 'upload', text, bytes: stdout.length, sha256, uploadId: d ? d[1] : null, queued: Boolean(d?.[4]) };
}

/** The preview's summary line (SHA-256 in full: it is what the upload checks). */
export function previewSummary(study: string, p: Extract<Preview, { kind: 'upload' }>): string {
  return `This is exactly what study "${study}" would receive: ${p.bytes} bytes, SHA-256 ${p.sha256}. Nothing has been sent.`;
}

/** The question before sending. */
export function sendQuestion(study: string, p: Extract<Preview, { kind: 'upload' }>): string {
  return `Send these ${p.bytes} bytes to study "${study}"?\n\nThey are exactly what the preview shows (SHA-256 ${p.sha256.slice(0, 16)}…). If anything changed since, nothing is sent.`;
}

/** A choice in a study picker: a study the class offers, one already consented to, or reading a file. */
export interface StudyPick {
  label: string;
  description?: string;
  detail?: string;
  /** The study id; undefined for "read a study from a file". */
  id?: string;
}

/** Offered studies and receipts as one list (each id once), then "read a study from a file". */
export function studyPicks(offered: OfferedStudy[], receipts: Receipt[]): StudyPick[] {
  const picks: StudyPick[] = [];
  const seen = new Set<string>();
  for (const s of offered) {
    const r = receipts.find((x) => x.study_id === s.id && x.revoked_at === null);
    picks.push({ label: s.title, description: `${s.id} · ${s.institution}${r ? ' · you consented' : ''}`, detail: `Collects ${s.collects}`, id: s.id });
    seen.add(s.id);
  }
  for (const r of receipts) {
    if (seen.has(r.study_id)) continue;
    seen.add(r.study_id);
    picks.push({ label: r.study_id, description: r.revoked_at ? 'you withdrew' : 'you consented', id: r.study_id });
  }
  picks.push({ label: 'Read a study from a file…', description: 'a signed study document (.json) from the researchers' });
  return picks;
}
