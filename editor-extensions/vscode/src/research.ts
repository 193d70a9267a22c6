// Research studies in the editor: the `pencil-lsp research ...` command lines the
// extension runs and the reading of their answers, as plain functions (no VS Code
// here; `researchCommands.ts` is the UI). The CLI owns every decision that
// matters (signatures, the age rule, scrubbing, what is sent); this module only
// builds its arguments and reads what it says.
//
// `study show`, `study list` and `receipts` are read as JSON (`--json`); only
// `preview`'s details are text, on stderr (the bytes themselves are stdout). The
// readers below are checked against the real binary in test/research.test.ts.
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
  /** The class's offers and the studies kept on this machine (works outside a class too). */
  list: (o: ResearchOptions) => ['research', 'study', 'list', '--json', ...dataDir(o)],
  /** A study id, or the absolute path of a study file (a relative one could read as an option). */
  show: (idOrFile: string, o: ResearchOptions) => {
    const absolute = idOrFile.startsWith('/') || /^[A-Za-z]:[\\/]/.test(idOrFile) || idOrFile.startsWith('\\\\');
    return ['research', 'study', 'show', absolute ? idOrFile : studyId(idOrFile), '--json', ...dataDir(o)];
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

function readReceipt(r: any): Receipt {
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
}

function readJson(stdout: string, what: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    throw new Error(`pencil-lsp answered something other than ${what} (is it older than this extension?)`);
  }
}

/** Reads `research receipts --json`; throws if it is not the list of receipts it should be. */
export function parseReceipts(stdout: string): Receipt[] {
  const value = readJson(stdout, 'a list of receipts');
  if (!Array.isArray(value)) throw new Error('pencil-lsp answered something other than a list of receipts');
  return value.map(readReceipt);
}

/** One study of `research study list --json`. */
export interface ListedStudy {
  id: string;
  /** `offered` by the class now, `kept` on this machine (from a file or an earlier offer), or `refused` (its signature does not verify). */
  status: 'offered' | 'kept' | 'refused';
  title: string | null;
  institution: string | null;
  /** What it collects, in words. */
  collects: string | null;
  /** Why it was refused; null otherwise. */
  refused: string | null;
  consentGiven: boolean;
}

const str = (v: unknown) => typeof v === 'string';
const strOrNull = (v: unknown) => v === null || typeof v === 'string';

/** Reads `research study list --json`; throws if it is not the list it should be. */
export function parseStudyList(stdout: string): ListedStudy[] {
  const value = readJson(stdout, 'a list of studies');
  if (!Array.isArray(value)) throw new Error('pencil-lsp answered something other than a list of studies');
  return value.map((l: any) => {
    const ok =
      l && typeof l === 'object' && str(l.id) && ['offered', 'kept', 'refused'].includes(l.status) &&
      strOrNull(l.title) && strOrNull(l.institution) && strOrNull(l.collects) && strOrNull(l.refused) && typeof l.consent_given === 'boolean';
    if (!ok) throw new Error('a study listed by pencil-lsp is missing a field');
    return { id: l.id, status: l.status, title: l.title, institution: l.institution, collects: l.collects, refused: l.refused, consentGiven: l.consent_given };
  });
}

/** What a study collects (its `collects`). */
export interface Collects {
  programs: string;
  timestamps: string;
  hints: boolean;
}

/** A study as `research study show --json` describes it: the signed document, why it is trusted, and the consent in force. */
export interface StudyInfo {
  id: string;
  title: string;
  institution: string;
  ethicsApproval: string;
  contact: string;
  collects: Collects;
  retentionDays: number;
  consentVersion: string;
  consentText: string;
  /** Students under this age need a parent's or the school's consent; 0: anyone may consent for themselves. */
  guardianBelowAge: number;
  /** `class`: offered by the class (the teacher's key vouches for it); `file`: read from a file. */
  source: 'class' | 'file';
  researcherKeyFingerprint: string;
  /** Whether this call read the study file and pinned its researcher key for the first time. */
  pinnedNow: boolean;
  firstSeen: string;
  /** The receipt of the consent in force; null when consent is not given. */
  consent: Receipt | null;
}

/** Reads `research study show --json`; throws if it is not a study. */
export function parseStudyShow(stdout: string): StudyInfo {
  const v = readJson(stdout, 'a study') as any;
  const s = v?.study;
  const ok =
    s && typeof s === 'object' &&
    ['id', 'title', 'institution', 'ethics_approval', 'contact'].every((k) => str(s[k])) &&
    s.collects && str(s.collects.programs) && str(s.collects.timestamps) && typeof s.collects.hints === 'boolean' &&
    typeof s.retention_days === 'number' &&
    s.consent && str(s.consent.version) && str(s.consent.text) && typeof s.consent.guardian_below_age === 'number' &&
    (v.source === 'class' || v.source === 'file') && str(v.researcher_key_fingerprint) && typeof v.pinned_now === 'boolean' && str(v.first_seen);
  if (!ok) throw new Error('pencil-lsp described the study without a field this extension needs (update both)');
  return {
    id: s.id, title: s.title, institution: s.institution, ethicsApproval: s.ethics_approval, contact: s.contact,
    collects: { programs: s.collects.programs, timestamps: s.collects.timestamps, hints: s.collects.hints },
    retentionDays: s.retention_days, consentVersion: s.consent.version, consentText: s.consent.text, guardianBelowAge: s.consent.guardian_below_age,
    source: v.source, researcherKeyFingerprint: v.researcher_key_fingerprint, pinnedNow: v.pinned_now, firstSeen: v.first_seen,
    consent: v.consent === null || v.consent === undefined ? null : readReceipt(v.consent),
  };
}

/** The study in words, for the read-only document the student reads before consenting. */
export function studyText(s: StudyInfo): string {
  const trust =
    s.source === 'class'
      ? "offered by your class: your teacher's key vouches for the researchers' key"
      : "read from a file: the researchers' key was kept the first time this study was seen, so a changed study must come from the same researchers";
  const age = s.guardianBelowAge > 0 ? `students under ${s.guardianBelowAge} need a parent's or the school's consent` : 'anyone may consent for themselves';
  const out = [
    `Study "${s.id}": ${s.title}`,
    ...(s.pinnedNow ? ["(Its signature checks out, and the researchers' key is now kept on this machine.)"] : []),
    '',
    `Run by: ${s.institution}`,
    `Ethics approval: ${s.ethicsApproval}`,
    `Contact: ${s.contact}`,
    `Collects: ${collectsWords(s.collects) ?? JSON.stringify(s.collects)}; names, e-mail addresses, phone numbers and addresses are removed first`,
    'Collection starts when you consent; nothing recorded before leaves this machine.',
    `The researchers keep it for: ${s.retentionDays} days`,
    `Researchers' key fingerprint: ${s.researcherKeyFingerprint} (it should match the one on the study's consent form)`,
    `Trusted because: ${trust}`,
    '',
    `Consent text, version ${s.consentVersion} (${age}):`,
    ...s.consentText.split('\n').map((l) => `  ${l}`),
    '',
    s.consent
      ? `Your consent: given by ${WHO[s.consent.consented_by] ?? s.consent.consented_by} on ${s.consent.consented_at} UTC (consent text version ${s.consent.consent_version}).`
      : 'Your consent: not given.',
  ];
  return out.join('\n') + '\n';
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

/** What a study collects, in words; undefined for a value this extension does not know. */
export function collectsWords(c: Collects): string | undefined {
  const programs: Record<string, string> = { final: 'the final version of each program', full: 'every version of each program you run' };
  const times: Record<string, string> = { exact: 'exact times', minute: 'times rounded to the minute', hour: 'times rounded to the hour', day: 'dates only' };
  const p = programs[c.programs];
  const t = times[c.timestamps];
  if (!p || !t) return undefined;
  return `${p}, ${t}, ${c.hints ? 'which hints you were shown and whether you took them' : 'no hints'}`;
}

/** A receipt's scope (the study's `collects`, as JSON) in words; the JSON itself if it does not read. */
export function scopeWords(scopeJson: string): string {
  try {
    const s = JSON.parse(scopeJson) as Partial<Collects>;
    if (typeof s.programs !== 'string' || typeof s.timestamps !== 'string' || typeof s.hints !== 'boolean') return scopeJson;
    return collectsWords(s as Collects) ?? scopeJson;
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

/** Who may consent, in the words a student reads (guardianBelowAge 0: anyone may consent for themselves). */
export function whoChoices(guardianBelowAge: number): WhoChoice[] {
  const young = guardianBelowAge > 0 ? `for students under ${guardianBelowAge}` : undefined;
  return [
    { by: 'student', label: 'Me', description: guardianBelowAge > 0 ? `if you are ${guardianBelowAge} or older` : undefined },
    { by: 'parent', label: 'My parent or guardian', description: young },
    { by: 'school', label: 'My school', description: young },
  ];
}

/** Whether to ask the student's age: only when the student consents to a study with an age rule. */
export function needsAge(by: ConsentBy, guardianBelowAge: number): boolean {
  return by === 'student' && guardianBelowAge > 0;
}

/** Checks a typed age: undefined if it is fine, else what to say. */
export function ageProblem(text: string): string | undefined {
  const t = text.trim();
  if (!/^\d{1,3}$/.test(t) || Number(t) < 3 || Number(t) > 120) return 'Type your age as a number, like 14.';
  return undefined;
}

/** What to tell a student who is too young to consent alone; undefined if the age is enough. */
export function tooYoung(age: number, guardianBelowAge: number): string | undefined {
  if (guardianBelowAge <= 0 || age >= guardianBelowAge) return undefined;
  return `This study asks students under ${guardianBelowAge} to have a parent, a guardian or the school consent for them. Nothing was recorded. You can ask them to choose "My parent or guardian" or "My school".`;
}

/** The last question before consent is recorded. */
export function consentQuestion(study: Pick<StudyInfo, 'title'>, by: ConsentBy): string {
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

/** A choice in a study picker: a study the class offers or one kept on this machine, or reading a file. */
export interface StudyPick {
  label: string;
  description?: string;
  detail?: string;
  /** The study id; undefined for "read a study from a file". */
  id?: string;
}

/** The listed studies that can be read (refused ones are said apart), then "read a study from a file". */
export function studyPicks(listed: ListedStudy[]): StudyPick[] {
  const picks: StudyPick[] = [];
  for (const s of listed) {
    if (s.status === 'refused') continue;
    const where = s.status === 'offered' ? 'offered by your class' : 'kept on this machine';
    picks.push({
      label: s.title ?? s.id,
      description: [s.id, s.institution, where, s.consentGiven ? 'you consented' : undefined].filter(Boolean).join(' · '),
      detail: s.collects ? `Collects ${s.collects}` : undefined,
      id: s.id,
    });
  }
  picks.push({ label: 'Read a study from a file…', description: 'a signed study document (.json) from the researchers' });
  return picks;
}
