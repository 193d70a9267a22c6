// Bundles the editor page for pencil-lsp: page.js (CodeMirror, @codemirror/lsp-client,
// the shared turtle renderer and src/main.js, one classic script), page.css and
// page.html, into the directory given as the first argument (default dist/).
// lsp-server/build.rs runs this at build time and embeds the three files.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] || join(here, 'dist'));
mkdirSync(outdir, { recursive: true });

const common = { bundle: true, minify: true, logLevel: 'warning', charset: 'utf8', legalComments: 'inline' };
await build({
  ...common,
  entryPoints: [join(here, 'src/main.js')],
  outfile: join(outdir, 'page.js'),
  format: 'iife',
  platform: 'browser',
  target: ['chrome109', 'firefox115', 'safari16'],
});
await build({ ...common, entryPoints: [join(here, 'src/page.css')], outfile: join(outdir, 'page.css') });
copyFileSync(join(here, 'src/page.html'), join(outdir, 'page.html'));

// Both are inlined into the page: a closing tag inside would end them early.
for (const [file, tag] of [['page.js', '</script'], ['page.css', '</style']]) {
  if (readFileSync(join(outdir, file), 'utf8').toLowerCase().includes(tag)) {
    throw new Error(`${file} contains "${tag}" and cannot be inlined into the page`);
  }
}
