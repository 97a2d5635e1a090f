// Writes the catalog-derived configuration of the production stack: kong/kong.yml, kong/nginx-*.conf and
// collector/config.yaml.
//   node packages/stack/dist/generate.js [--check] [--root DIR]   (npm run generate at the repository root)
// --check exits 1 when a file is not what the catalog gives. Paths are relative to --root (default: cwd).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCatalog } from '@mp-otel/contracts';
import { renderConfig } from './collector-config.js';
import { renderKongNginxHttp, renderKongNginxProxy, renderKongYml } from './kong.js';

/** The generated files of the stack, relative path → content, for a repository root. */
export function stackFiles(root: string): Record<string, string> {
  const catalog = loadCatalog(join(root, 'catalog', 'catalog.yaml'));
  const template = readFileSync(join(root, 'collector', 'config.template.yaml'), 'utf8');
  return {
    'kong/kong.yml': renderKongYml(catalog),
    'kong/nginx-http.conf': renderKongNginxHttp(catalog),
    'kong/nginx-proxy.conf': renderKongNginxProxy(catalog),
    'collector/config.yaml': renderConfig(catalog, template),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { check: { type: 'boolean' }, root: { type: 'string' } } });
  const root = resolve(values.root ?? '.');
  let stale = 0;
  for (const [rel, text] of Object.entries(stackFiles(root))) {
    const path = join(root, rel);
    if (values.check) {
      if (readFileSync(path, 'utf8') !== text) {
        process.stderr.write(`${rel} is out of date: run \`npm run generate\`\n`);
        stale++;
      }
    } else {
      writeFileSync(path, text);
      process.stderr.write(`wrote ${path}\n`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
