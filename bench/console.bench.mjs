// The console: each dashboard's full load in a real browser — navigation to /d/<uid> until every panel has
// rendered (the console's API running the panel queries in-process on chDB, then uPlot / tables / stats in
// Debian's Chromium via playwright-core) — on spans generated like the dashboards bench (7 days, the same
// generator). Second load of each dashboard measured (the first warms the parts).
//
// MP_OTEL_BENCH_SPANS (default 2 000 000, ~2 min to generate here).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@clickhouse/client';
import { startConsole } from '@mp-otel/console';
import { loadCatalog } from '@mp-otel/contracts';
import { startEmbedded } from '@mp-otel/store';
import { chromium } from 'playwright-core';
import { generate } from './dashboards.bench.mjs';

const SPANS = Number(process.env.MP_OTEL_BENCH_SPANS ?? 2_000_000);
const root = fileURLToPath(new URL('..', import.meta.url));

export default async function () {
  execFileSync(join(root, 'scripts/ensure-chromium.sh'), { stdio: 'inherit' });
  const dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-bench-console-'));
  const emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, log: () => {} });
  // the administrator: the generator writes with INSERT … SELECT
  const client = createClient({
    url: emb.clickhouseUrl,
    username: emb.credentials.admin.username,
    password: emb.credentials.admin.password,
    database: emb.database,
    request_timeout: 900_000,
  });
  /** @type {import('./run.mjs').BenchRow[]} */
  const rows = [];
  /** @type {Awaited<ReturnType<typeof startConsole>> | undefined} */
  let con;
  /** @type {import('playwright-core').Browser | undefined} */
  let browser;
  try {
    const t0 = performance.now();
    await generate(client, SPANS, Date.now());
    rows.push({
      suite: 'console',
      case: `generate ${SPANS} spans (+ MV fill)`,
      value: (performance.now() - t0) / 1000,
      unit: 's',
    });
    con = await startConsole({
      store: emb.store,
      database: emb.database,
      catalog: loadCatalog(join(root, 'catalog/catalog.yaml')),
      port: 0,
      alerts: false,
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const url = /** @type {NonNullable<typeof con>} */ (con).url;
    const meta = await (await fetch(`${url}/api/meta`)).json();
    const load = async (/** @type {string} */ uid) => {
      const started = performance.now();
      await page.goto(`${url}/d/${uid}`);
      await page.waitForSelector('.grid[data-loaded="true"]', { timeout: 600_000 });
      const ms = performance.now() - started;
      const states = await page.$$eval('[data-panel-id]', (els) =>
        els.map((e) => e.getAttribute('data-panel-state')),
      );
      return { ms, states };
    };
    for (const { uid } of meta.dashboards) {
      await load(uid);
      const { ms, states } = await load(uid);
      const count = (/** @type {string} */ s) => states.filter((x) => x === s).length;
      rows.push({
        suite: 'console',
        case: `${uid} full load (API + render)`,
        value: ms,
        unit: 'ms',
        note: `${states.length} panels: ${count('ok')} ok, ${count('nodata')} nodata, ${count('error')} error`,
      });
    }
  } finally {
    await browser?.close();
    await con?.close();
    await client.close();
    await emb.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}
