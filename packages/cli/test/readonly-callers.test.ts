// The callers of the SQL endpoint still work under least privilege: every provisioned dashboard query and
// variable, every alert rule, and the diagnosis run as the read-only user (what Grafana connects as) — the
// parser-based guard must not refuse the project's own SQL. Real embedded store, real HTTP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { loadCatalog } from '@mp-otel/contracts';
import { diagnose } from '@mp-otel/diagnose';
import { buildDashboards, evaluateAlerts, runDashboard } from '@mp-otel/grafana';
import { defaultCatalogPath, type Embedded, startEmbedded } from '@mp-otel/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-ro-callers-'));
let emb: Embedded;
let reader: ClickHouseClient;
const catalog = loadCatalog(defaultCatalogPath());

beforeAll(async () => {
  emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, geo: false, log: () => {}, env: {} });
  reader = createClient({
    url: emb.clickhouseUrl,
    username: emb.credentials.reader.username,
    password: emb.credentials.reader.password,
    database: emb.database,
  });
}, 120_000);
afterAll(async () => {
  await reader?.close();
  await emb?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the project SQL runs as the read-only user', () => {
  it('every dashboard query, variable and annotation', async () => {
    let n = 0;
    for (const d of buildDashboards(catalog)) {
      const results = await runDashboard(d, { client: reader, database: emb.database });
      for (const r of results)
        expect([d.title, r.title, r.refId, r.error]).toEqual([d.title, r.title, r.refId, undefined]);
      n += results.length;
    }
    expect(n).toBeGreaterThan(20);
  }, 300_000);

  it('every alert rule and the diagnosis', async () => {
    const at = Date.now();
    const results = await evaluateAlerts({ catalog, client: reader, database: emb.database, at });
    expect(results.length).toBeGreaterThan(0);
    const d = await diagnose({ client: reader, database: emb.database, at });
    expect(d.culprits).toEqual([]);
  }, 120_000);
});
