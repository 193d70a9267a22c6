// What a pencil/run answer means, in words a student reads at a glance.

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
