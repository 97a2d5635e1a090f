// Builds @mp-otel/miniprogram:
//   miniprogram_dist/index.js  CommonJS, minified, what WeChat DevTools' "Build npm" copies
//   dist/index.js, dist/index.cjs  ESM and CommonJS for bundlers (Taro, uni-app, …) and Node tests
//   dist/*.d.ts                types
// The SDK implements the OpenTelemetry API itself (src/tracer.ts, src/otlp.ts): nothing depends on
// globals WeChat's engine lacks (performance, TextEncoder, URL, …).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));

// The SDK and its plugins, each a separate entry (and size budget): plugins can be loaded from a subpackage.
const ENTRIES = ['index', 'render', 'console', 'frameworks'];

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'browser', // OpenTelemetry's browser builds: no node:* imports
  mainFields: ['module', 'main'],
  target: 'es2017', // iOS JavaScriptCore in old WeChat versions; no class fields, no ?. in output
  define: { __MP_OTEL_VERSION__: JSON.stringify(version) },
  // Members that are private to this package end in `_` (entries_, send_, …): mangled to short names.
  // Nothing in OpenTelemetry ends a property name with `_` (checked when this was written).
  mangleProps: /[^_]_$/,
  legalComments: 'none',
  logLevel: 'warning',
};

rmSync(join(here, 'dist'), { recursive: true, force: true });
rmSync(join(here, 'miniprogram_dist'), { recursive: true, force: true });
await Promise.all(
  ENTRIES.flatMap((name) => {
    const entryPoints = [join(here, `src/${name}.ts`)];
    return [
      esbuild.build({
        ...common,
        entryPoints,
        format: 'cjs',
        minify: true,
        outfile: join(here, `miniprogram_dist/${name}.js`),
      }),
      esbuild.build({ ...common, entryPoints, format: 'esm', outfile: join(here, `dist/${name}.js`) }),
      esbuild.build({ ...common, entryPoints, format: 'cjs', outfile: join(here, `dist/${name}.cjs`) }),
    ];
  }),
);
execFileSync(
  process.execPath,
  [join(here, '../../node_modules/typescript/bin/tsc'), '-p', join(here, 'tsconfig.json')],
  {
    stdio: 'inherit',
  },
);
