// VS Code's settings (pencilCoach.*) as the options pencil-lsp reads
// (`initializationOptions` and `workspace/didChangeConfiguration`, under "pencil").

export interface CoachSettings {
  hintsEnabled: boolean;
  hintSize: 'small' | 'medium' | 'large';
  modelDir?: string | null;
  dataDir?: string | null;
  recordOnSave: boolean;
  retentionDays?: number | null;
}

/** Reads a settings getter (`vscode.workspace.getConfiguration('pencilCoach').get`). */
export function readSettings(get: <T>(key: string) => T | undefined): CoachSettings {
  const size = get<string>('hints.size');
  return {
    hintsEnabled: get<boolean>('hints.enabled') ?? true,
    hintSize: size === 'medium' || size === 'large' ? size : 'small',
    modelDir: get<string | null>('model.dir') ?? null,
    dataDir: get<string | null>('data.dir') ?? null,
    recordOnSave: get<boolean>('recordOnSave') ?? true,
    retentionDays: get<number | null>('retentionDays') ?? null,
  };
}

/** The server's options; unset paths are left out so the server's defaults apply. */
export function serverOptions(s: CoachSettings): { pencil: Record<string, unknown> } {
  const pencil: Record<string, unknown> = { hintSize: s.hintSize, recordOnSave: s.recordOnSave };
  if (s.modelDir) pencil.modelDir = s.modelDir;
  if (s.dataDir) pencil.dataDir = s.dataDir;
  if (s.retentionDays !== null && s.retentionDays !== undefined) pencil.retentionDays = s.retentionDays;
  return { pencil };
}
