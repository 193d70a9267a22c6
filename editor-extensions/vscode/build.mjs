// Bundles the extension (dist/extension.js), the drawing panel's script with the
// shared renderer (dist/runPanel.js, runs in the webview) and the unit tests
// (out/test/*.js). `vscode` is provided by the editor at run time; the tests
// never import it.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';

await build({
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'dist/extension.js',
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  external: ['vscode'],
  sourcemap: false,
  minify: true,
  logLevel: 'warning',
});

await build({
  entryPoints: ['src/webview/runPanel.ts'],
  bundle: true,
  outfile: 'dist/runPanel.js',
  platform: 'browser',
  format: 'iife',
  target: 'chrome114',
  sourcemap: false,
  minify: true,
  logLevel: 'warning',
});

const tests = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`);
await build({
  entryPoints: tests,
  bundle: true,
  outdir: 'out/test',
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  logLevel: 'warning',
});
