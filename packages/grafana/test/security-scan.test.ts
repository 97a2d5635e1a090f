// The security-scan scenario (a periodic scanner and a crawler, no fault), shortened: no alert rule may
// fire, while the crawler dashboard does show the concentration.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateAlerts, formatAlerts } from '../src/alerts.js';
import { runDashboard } from '../src/run.js';
import { type Embedded, simulateInto } from './helpers.js';
import { catalog, GRAFANA_DIR } from './paths.js';

let emb: Embedded;
let close: () => Promise<void>;
let end = 0;
let start = 0;
let outcomes = '';

beforeAll(async () => {
  const x = await simulateInto('security-scan', 12);
  ({ emb, close } = x);
  start = x.sim.simStartMs;
  end = x.sim.simEndMs;
  outcomes = JSON.stringify(x.sim.outcomes);
  expect(x.sim.noiseRequests).toBeGreaterThan(100);
}, 240_000);

afterAll(async () => {
  await close?.();
});

describe('security-scan noise', () => {
  it('fires no rule, at any minute of the run', async () => {
    for (let at = start + 5 * 60_000; at <= end; at += 60_000) {
      const results = await evaluateAlerts({ catalog, client: emb.client, at });
      expect(
        results.filter((r) => r.firing),
        `${new Date(at).toISOString()} simulated outcomes ${outcomes}\n${formatAlerts(results)}`,
      ).toEqual([]);
      expect(results.length).toBe(8);
    }
  });

  it('the crawler dashboard shows the scanner and the crawler', async () => {
    const d = JSON.parse(
      readFileSync(join(GRAFANA_DIR, 'dashboards', 'mp-crawler.json'), 'utf8'),
    ) as dashboard.Dashboard;
    const rs = await runDashboard(d, { client: emb.client, to: end, throwOnError: true });
    const ips = rs.find((r) => r.title === 'Client IP concentration')!.rows.map((r) => r.ip);
    expect(ips.slice(0, 4)).toEqual(
      expect.arrayContaining(['185.220.101.7', '61.135.169.121', '61.135.169.125', '220.181.38.148']),
    );
    const spider = rs
      .find((r) => r.title === 'User agents')!
      .rows.find((r) => String(r.ua).includes('Baiduspider'));
    expect(spider).toMatchObject({ bot_like: 1 });
    expect(Number(spider!.ips)).toBe(3);
    expect(
      Number(rs.find((r) => r.title === 'Share of requests from the top 3 IPs')!.rows[0]!.top3_share),
    ).toBeGreaterThan(0.2);
  });
});
