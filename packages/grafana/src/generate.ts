// Writes grafana/: provisioning (datasource, dashboard provider, alert rules) and the dashboard JSON.
// `npm run generate -w @mp-otel/grafana` (or `node packages/grafana/dist/generate.js [outDir]`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alertProvisioning, alertRules } from './alerts.js';
import { type Catalog, loadCatalog } from './catalog.js';
import { buildDashboards } from './dashboards.js';
import { dashboardProviderProvisioning, datasourceProvisioning } from './provisioning.js';

export const DEFAULT_OUT_DIR = fileURLToPath(new URL('../../../grafana', import.meta.url));

/** The generated files, relative path → content. */
export function generatedFiles(catalog: Catalog = loadCatalog()): Record<string, string> {
  const files: Record<string, string> = {
    'provisioning/datasources/clickhouse.yaml': datasourceProvisioning(),
    'provisioning/dashboards/mp-otel.yaml': dashboardProviderProvisioning(),
    'provisioning/alerting/mp-otel-rules.yaml': alertProvisioning(alertRules(catalog)),
  };
  for (const d of buildDashboards(catalog))
    files[`dashboards/${d.uid}.json`] = `${JSON.stringify(d, null, 2)}\n`;
  return files;
}

export function generate(outDir: string = DEFAULT_OUT_DIR, catalog?: Catalog): string[] {
  const files = generatedFiles(catalog);
  for (const [rel, content] of Object.entries(files)) {
    const path = join(outDir, rel);
    mkdirSync(resolve(path, '..'), { recursive: true });
    writeFileSync(path, content);
  }
  // Format the JSON the way the repository's `biome check` wants it (best effort: Biome is a root devDependency).
  spawnSync('npx', ['--no-install', 'biome', 'format', '--write', join(outDir, 'dashboards')], {
    stdio: 'ignore',
  });
  return Object.keys(files);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? resolve(process.argv[2]) : DEFAULT_OUT_DIR;
  for (const f of generate(out)) console.log(`wrote ${join(out, f)}`);
}
