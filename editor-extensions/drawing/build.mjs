// Bundles the unit tests (out/test/*.js). The editors bundle src/render.ts
// themselves with their own esbuild builds.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';

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
