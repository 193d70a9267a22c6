// What a pencil/run answer means, in words a student reads at a glance.
import type { Drawing } from './protocol';

export interface Diagnostic {
  range: { start: { line: number; character: number } };
  message: string;
  severity?: number;
}

export interface RunResult {
  status: 'ok' | 'error' | 'timeout' | 'waits_for_input';
  paper_success: boolean;
  diagnostics: Diagnostic[];
  state_id?: number | null;
  fixes: number;
  /** What the turtle drew (protocol v2, asked for); absent when the program did not compile. */
  drawing?: Drawing;
}

export interface RunSummary {
  /** Status bar text (with a codicon). */
  statusBar: string;
  /** The sentence shown after a run. */
  message: string;
  /** Whether it is bad news (shown as a warning). */
  problem: boolean;
}

/** Summarises a run for the status bar and a notification. */
export function describeRun(r: RunResult): RunSummary {
  switch (r.status) {
    case 'ok':
      return { statusBar: '$(check) Runs', message: 'Your program runs.', problem: false };
    case 'error': {
      const first = r.diagnostics.find((d) => (d.severity ?? 1) === 1) ?? r.diagnostics[0];
      const where = first ? ` on line ${first.range.start.line + 1}: ${first.message}` : '';
      const fixes = r.fixes > 0 ? ` ${r.fixes === 1 ? 'A fix is' : `${r.fixes} fixes are`} ready (the light bulb).` : '';
      return { statusBar: '$(error) Error', message: `Your program stopped with an error${where}.${fixes}`, problem: true };
    }
    case 'timeout':
      return { statusBar: '$(watch) Too slow', message: 'Your program did not finish in time. Is there a loop that never ends?', problem: true };
    case 'waits_for_input':
      return { statusBar: '$(keyboard) Waiting', message: 'Your program is waiting for input (a click, a key or an answer).', problem: false };
    default:
      return { statusBar: '$(question) ?', message: 'The coach gave an answer this extension does not know.', problem: true };
  }
}

/** What the drawing panel shows above the canvas. */
export interface PanelView {
  /** `good`, `bad` or `waiting`: the headline's colour. */
  tone: 'good' | 'bad' | 'waiting';
  /** One short sentence. */
  headline: string;
  /** The error as the runtime said it, with its line (1-based), if the program stopped. */
  error?: { line: number; message: string };
  /** What to do next, or why there is no picture. */
  notes: string[];
  /** The program's file name, for the panel's title. */
  fileName: string;
}

/** The drawing panel's words for a run, for a 12-year-old reading them at a glance. */
export function panelView(r: RunResult, fileName: string): PanelView {
  const notes: string[] = [];
  let tone: PanelView['tone'];
  let headline: string;
  let error: PanelView['error'];
  switch (r.status) {
    case 'ok':
      tone = 'good';
      headline = 'It worked! Your program ran to the end.';
      break;
    case 'error': {
      tone = 'bad';
      const first = r.diagnostics.find((d) => (d.severity ?? 1) === 1) ?? r.diagnostics[0];
      if (first) {
        error = { line: first.range.start.line + 1, message: first.message };
        headline = `Oops! Your program stopped on line ${error.line}.`;
      } else {
        headline = 'Oops! Your program stopped with an error.';
      }
      const unknown = error && /(?:ReferenceError: )?([A-Za-z_$][\w$]*) is not defined/.exec(error.message);
      if (unknown) notes.push(`The computer does not know the word "${unknown[1]}". Is it spelled right?`);
      if (r.fixes > 0) notes.push(`Click the light bulb on line ${error?.line ?? 'with the error'} (or press Ctrl+.) to see a fix that works.`);
      break;
    }
    case 'timeout':
      tone = 'bad';
      headline = 'Your program took too long, so it was stopped.';
      notes.push('Is there a loop that never ends?');
      break;
    case 'waits_for_input':
      tone = 'waiting';
      headline = 'Your program is waiting for you: a click, a key or an answer.';
      break;
    default:
      tone = 'bad';
      headline = 'The coach gave an answer this extension does not know.';
  }
  if (!r.drawing) {
    if (r.status === 'error') notes.push('There is no picture because the program could not start.');
  } else {
    if (r.drawing.ops.length === 0 && r.drawing.background === null) notes.push('The turtle did not draw anything.');
    else if (r.status === 'error') notes.push('The picture shows what the turtle drew before it stopped.');
    if (r.drawing.truncated) notes.push('Your drawing was very big, so only the first part is shown.');
  }
  return { tone, headline, error, notes, fileName };
}
