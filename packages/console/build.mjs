// Build: the server (tsc) and the browser bundle (esbuild: src/web → dist/public/app.js + app.css, uPlot
// included; no CDN, nothing fetched at run time). The bundle's size is printed and checked in the tests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.web.json')], { stdio: 'inherit' });
const out = join(here, 'dist/public');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, 'src/web/main.ts') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  outdir: out,
  legalComments: 'none',
  loader: { '.css': 'css' },
  logLevel: 'warning',
});
const kb = (/** @type {string} */ f) => (statSync(join(out, f)).size / 1024).toFixed(1);
console.log(`console bundle: app.js ${kb('app.js')} KiB, app.css ${kb('app.css')} KiB`);
