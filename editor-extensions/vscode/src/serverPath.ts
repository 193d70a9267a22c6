// Where the pencil-lsp binary is: the setting, then PATH, then the binary bundled
// in a platform-specific .vsix (server/pencil-lsp), the way rust-analyzer ships its
// server. Plain logic with its file-system checks passed in, so it is testable.
import * as path from 'node:path';

export type ServerSource = 'setting' | 'PATH' | 'bundled';

export interface ServerLookup {
  /** `pencilCoach.server.path`, if set. */
  setting?: string | null;
  /** The PATH environment variable. */
  pathEnv?: string;
  /** `process.platform`. */
  platform: string;
  /** The extension's install directory. */
  extensionDir: string;
  /** Whether a file exists and can be executed. */
  isExecutable: (file: string) => boolean;
}

export interface FoundServer {
  path: string;
  source: ServerSource;
}

/** The binary's file name on this platform. */
export function binaryName(platform: string): string {
  return platform === 'win32' ? 'pencil-lsp.exe' : 'pencil-lsp';
}

/** Finds the server, or explains in one sentence where it looked. */
export function findServer(l: ServerLookup): FoundServer | { error: string } {
  const name = binaryName(l.platform);
  if (l.setting && l.setting.trim() !== '') {
    const p = l.setting.trim();
    return l.isExecutable(p)
      ? { path: p, source: 'setting' }
      : { error: `pencilCoach.server.path is set to ${p}, but no program is there.` };
  }
  const sep = l.platform === 'win32' ? ';' : ':';
  for (const dir of (l.pathEnv ?? '').split(sep)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (l.isExecutable(candidate)) return { path: candidate, source: 'PATH' };
  }
  const bundled = path.join(l.extensionDir, 'server', name);
  if (l.isExecutable(bundled)) return { path: bundled, source: 'bundled' };
  return {
    error:
      `The Pencil coach could not find ${name}: set pencilCoach.server.path, put it on your PATH, ` +
      `or install the .vsix built for your computer (it carries the server).`,
  };
}
