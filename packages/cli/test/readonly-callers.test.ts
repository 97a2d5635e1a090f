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

const T0 = Math.floor((Date.now() - 2 * 3600_000) / 60_000) * 60_000;

/** 40 minutes of client spans (an iOS + 3.5.0 failure from minute 30), generated in SQL; MVs fill the cubes. */
async function generate() {
  await emb.client.command({
    query: `
      INSERT INTO ${emb.database}.otel_traces (Timestamp, TraceId, SpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, SpanAttributes, Duration, StatusCode)
      WITH number % 240 AS i, intDiv(number, 240) AS minute,
           ['ios', 'android'][1 + i % 2] AS os, ['3.4.10', '3.5.0'][1 + intDiv(i, 2) % 2] AS bl,
           minute >= 30 AND os = 'ios' AND bl = '3.5.0' AS failing
      SELECT fromUnixTimestamp64Milli(toInt64(${T0} + minute * 60000 + i * 200)),
             hex(cityHash64(number, 1)), hex(cityHash64(number, 2)), 'POST upload.image', 'Client', 'image-miniprogram',
             map('mp.platform', 'wechat', 'os.name', os, 'mp.base_library.version', bl, 'service.version', '1.4.2'),
             map('mp.route_name', 'upload.image', 'http.request.method', 'POST',
                 'http.response.status_code', if(failing, '400', '201'), 'error.type', if(failing, '400', '')),
             toUInt64((40 + i % 50) * 1000000), if(failing, 'Error', 'Unset')
        FROM numbers(240 * 40)`,
  });
}

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

  it('on data, every dashboard query answers through the guard exactly what it answers on chDB directly', async () => {
    // the guard runs ClickHouse's canonical formatting of a statement, not its text: same answers
    await generate();
    const to = T0 + 45 * 60_000;
    let compared = 0;
    for (const d of buildDashboards(catalog)) {
      const results = await runDashboard(d, {
        client: reader,
        database: emb.database,
        to,
        from: T0 - 60_000,
      });
      for (const r of results) {
        expect(r.error).toBeUndefined();
        if (/now\(|today\(|rand/i.test(r.sql)) continue;
        const direct = JSON.parse(
          Buffer.from((await emb.store.query(r.sql, 'JSON', emb.database)).bytes).toString('utf8'),
        ) as { data: unknown[] };
        expect([d.title, r.title, r.refId, r.rows]).toEqual([d.title, r.title, r.refId, direct.data]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
    const diag = await diagnose({ client: reader, database: emb.database, at: to });
    expect(diag.culprits[0]?.where).toEqual({ 'os.name': 'ios', 'mp.base_library.version': '3.5.0' });
  }, 300_000);

  it('every alert rule and the diagnosis', async () => {
    const at = Date.now();
    const results = await evaluateAlerts({ catalog, client: reader, database: emb.database, at });
    expect(results.length).toBeGreaterThan(0);
    const d = await diagnose({ client: reader, database: emb.database, at });
    expect(Array.isArray(d.culprits)).toBe(true);
  }, 120_000);
});
