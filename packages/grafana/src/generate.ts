// Writes grafana/: provisioning (datasource, dashboard provider, alert rules) and the dashboard JSON.
// `npm run generate` at the repository root, or `node packages/grafana/dist/generate.js [outDir] [catalog]`
// (defaults: ./grafana and ./catalog/catalog.yaml, relative to the working directory).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Catalog, loadCatalog } from '@mp-otel/contracts';
import { alertProvisioning, alertRules } from './alerts.js';
import { buildDashboards } from './dashboards.js';
import { dashboardProviderProvisioning, datasourceProvisioning } from './provisioning.js';

/** The generated files, relative path → content. */
export function generatedFiles(catalog: Catalog): Record<string, string> {
  const files: Record<string, string> = {
    'provisioning/datasources/clickhouse.yaml': datasourceProvisioning(),
    'provisioning/dashboards/mp-otel.yaml': dashboardProviderProvisioning(),
    'provisioning/alerting/mp-otel-rules.yaml': alertProvisioning(alertRules(catalog)),
  };
  for (const d of buildDashboards(catalog))
    files[`dashboards/${d.uid}.json`] = `${JSON.stringify(d, null, 2)}\n`;
  return files;
}

export function generate(outDir: string, catalog: Catalog): string[] {
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
  const out = resolve(process.argv[2] ?? 'grafana');
  const catalog = loadCatalog(resolve(process.argv[3] ?? 'catalog/catalog.yaml'));
  for (const f of generate(out, catalog)) console.log(`wrote ${join(out, f)}`);
}
