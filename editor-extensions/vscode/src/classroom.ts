// Classroom mode in the editor, as plain functions (no VS Code here;
// `classroomCommands.ts` is the UI): the `pencil-lsp class ...` command lines the
// extension runs, the `pencil.askTeacher` / `pencil.reflect` command arguments it
// sends the running server, and checks of what the student typed. The server and
// the CLI own every decision that matters (the hub address rule, the policy, what
// is sent); these checks only catch typos before a round trip.

/** Options every class call gets the same way. */
export interface ClassOptions {
  /** `--data-dir`: the coach's store (pencilCoach.data.dir). */
  dataDir?: string | null;
}

function dataDir(o: ClassOptions): string[] {
  return o.dataDir ? ['--data-dir', o.dataDir] : [];
}

/** The argument lists of `pencil-lsp class ...` (after the binary). */
export const classArgs = {
  join: (code: string, hub: string, name: string, o: ClassOptions) => [
    'class', 'join', joinCode(code), '--hub', hub.trim(), '--name', name.trim(), ...dataDir(o),
  ],
  show: (o: ClassOptions) => ['class', 'show', ...dataDir(o)],
  hands: (o: ClassOptions) => ['class', 'hands', ...dataDir(o)],
};

/** A join code as the student may type it: letters and digits, dashes and spaces ignored. */
function joinCode(code: string): string {
  const c = code.replace(/[\s-]/g, '');
  if (!/^[A-Za-z0-9]{4,32}$/.test(c)) throw new Error(`"${code}" is not a join code (your teacher gives you one, like K7Q2MX)`);
  return c;
}

/** Checks a typed join code: undefined if it is fine, else what to say. */
export function codeProblem(code: string): string | undefined {
  try {
    joinCode(code);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Checks a typed hub address as the server will: https://, or http:// only to this machine. */
export function hubProblem(url: string): string | undefined {
  const m = /^(https?):\/\/(\[[^\]]+\]|[^/:]+)(:\d+)?(\/.*)?$/i.exec(url.trim());
  if (!m) return 'Type the address your teacher gave you, like https://hub.school.example';
  const host = m[2].toLowerCase();
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (m[1].toLowerCase() === 'http' && !loopback) return 'Use https:// (plain http:// only to this computer): your class token must not travel unencrypted';
  return undefined;
}

/** Checks a typed display name: a short nickname, no e-mail address. */
export function nameProblem(name: string): string | undefined {
  const n = name.trim();
  if (n.length === 0) return 'Type the name your teacher will see (a nickname is fine)';
  if (n.length > 40) return 'That name is long; use a shorter one';
  if (n.includes('@')) return 'No e-mail addresses: a name or nickname is enough';
  return undefined;
}

/** The argument of the server's `pencil.askTeacher` command. */
export function askTeacherArgs(uri: string, message: string | undefined, shareTrace: boolean): [{ uri: string; message?: string; shareTrace: boolean }] {
  const m = message?.trim();
  return [{ uri, ...(m ? { message: m } : {}), shareTrace }];
}

/** Longest message to the teacher, in characters (the hub's limit). */
export const MAX_MESSAGE = 2000;

/** Checks a message to the teacher (it may be empty). */
export function messageProblem(message: string): string | undefined {
  return [...message.trim()].length > MAX_MESSAGE ? `At most ${MAX_MESSAGE} characters` : undefined;
}

/** Fewest characters a reflection must have (the server checks the same). */
export const MIN_REFLECTION = 3;

/** Checks a reflection before it is sent to the server. */
export function reflectionProblem(text: string): string | undefined {
  const n = [...text.trim()].length;
  if (n < MIN_REFLECTION) return 'Write a few words about what you think is wrong';
  if (n > MAX_MESSAGE) return `At most ${MAX_MESSAGE} characters; a sentence or two is enough`;
  return undefined;
}

/** The server's reflect command. */
export const REFLECT_COMMAND = 'pencil.reflect';

/**
 * Whether a command the language client is about to run is the reflect code
 * action's (`[uri]` only): the extension asks the student and sends `[uri, text]`.
 */
export function isReflectRequest(command: string, args: unknown[]): args is [string] {
  return command === REFLECT_COMMAND && args.length === 1 && typeof args[0] === 'string';
}

/** The sentence a `pencil.reflect` / `pencil.askTeacher` answer carries. */
export function commandMessage(result: unknown, fallback: string): string {
  const m = (result as { message?: unknown } | null | undefined)?.message;
  return typeof m === 'string' && m.trim() !== '' ? m : fallback;
}

/** What "Show class" opens: the class and its policy, then the hands with replies. */
export function classText(show: string, hands: string | undefined): string {
  const parts = [show.trimEnd()];
  if (hands !== undefined) parts.push('', hands.trimEnd());
  return parts.join('\n') + '\n';
}

/** Whether `class show` says no class is joined. */
export function notInClass(show: string): boolean {
  return show.startsWith('Not in a class');
}
