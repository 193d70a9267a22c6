// Packages the .vsix; with PENCIL_LSP_BIN set, copies that server into server/
// and packages for this platform only (a platform-specific .vsix, like rust-analyzer's).
// The name lists the research scrub needs go beside it (server/names, where
// pencil-lsp looks), from PENCIL_NAMES_DIR or the checkout's .deps/names.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync, chmodSync } from 'node:fs';

const bin = process.env.PENCIL_LSP_BIN;
const args = ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', 'pencil-coach.vsix'];
rmSync('server', { recursive: true, force: true });
if (bin) {
  mkdirSync('server');
  const name = process.platform === 'win32' ? 'pencil-lsp.exe' : 'pencil-lsp';
  copyFileSync(bin, `server/${name}`);
  chmodSync(`server/${name}`, 0o755);
  const names = process.env.PENCIL_NAMES_DIR ?? '../../.deps/names';
  if (!existsSync(names)) throw new Error(`no name lists at ${names}: run scripts/setup.sh or set PENCIL_NAMES_DIR`);
  cpSync(names, 'server/names', { recursive: true });
  // The scrub's dictionary of common words (Debian's wamerican), which other systems lack.
  const dictionary = '/usr/share/dict/american-english';
  if (!existsSync(dictionary)) throw new Error(`no ${dictionary}: install Debian's wamerican (scripts/setup.sh does)`);
  copyFileSync(dictionary, 'server/names/american-english');
  const arch = process.arch === 'x64' ? 'x64' : process.arch;
  const os = process.platform === 'win32' ? 'win32' : process.platform === 'darwin' ? 'darwin' : 'linux';
  args.push('--target', `${os}-${arch}`);
}
execFileSync(process.execPath, ['node_modules/@vscode/vsce/vsce', ...args], { stdio: 'inherit' });
