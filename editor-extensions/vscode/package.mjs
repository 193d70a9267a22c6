// Packages the .vsix; with PENCIL_LSP_BIN set, copies that server into server/
// and packages for this platform only (a platform-specific .vsix, like rust-analyzer's).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, chmodSync } from 'node:fs';

const bin = process.env.PENCIL_LSP_BIN;
const args = ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', 'pencil-coach.vsix'];
rmSync('server', { recursive: true, force: true });
if (bin) {
  mkdirSync('server');
  const name = process.platform === 'win32' ? 'pencil-lsp.exe' : 'pencil-lsp';
  copyFileSync(bin, `server/${name}`);
  chmodSync(`server/${name}`, 0o755);
  const arch = process.arch === 'x64' ? 'x64' : process.arch;
  const os = process.platform === 'win32' ? 'win32' : process.platform === 'darwin' ? 'darwin' : 'linux';
  args.push('--target', `${os}-${arch}`);
}
execFileSync(process.execPath, ['node_modules/@vscode/vsce/vsce', ...args], { stdio: 'inherit' });
