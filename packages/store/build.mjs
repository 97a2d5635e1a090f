// Build: compile TypeScript, then copy the schema (clickhouse/migrations) and the catalog into the package
// so that an npm-installed mp-otel carries them (the repository copies stay the source of truth).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(here, 'tsconfig.json')],
  { stdio: 'inherit' },
);
/** @type {[string, string][]} */
const copies = [
  ['clickhouse/migrations', 'migrations'],
  ['catalog', 'catalog'],
];
for (const [from, to] of copies) {
  rmSync(join(here, to), { recursive: true, force: true });
  mkdirSync(join(here, to), { recursive: true });
  cpSync(join(root, from), join(here, to), { recursive: true });
}
