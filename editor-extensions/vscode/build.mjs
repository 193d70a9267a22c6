// Bundles the extension (dist/extension.js) and its unit tests (out/test/*.js).
// `vscode` is provided by the editor at run time; the tests never import it.
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
