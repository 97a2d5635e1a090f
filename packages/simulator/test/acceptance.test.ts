// The acceptance suite of issue 7, on the shipped scenarios as they are: a fleet of real SDK clients
// against the real image service (2 nodes, Node preset), through the simulated clock into the embedded
// store. For every scenario the injected culprit must be ranked first, within 2 simulated minutes of the
// fault's onset, in the right layer; the scan-only scenario must show no anomaly. The seed's report is
// rendered and photographed by headless Chromium (Debian's package).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { formatDiagnosis, renderReport } from '@mp-otel/diagnose';
import { type Embedded, readIp2Region, startEmbedded } from '@mp-otel/store';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadScenario, runScenario, type ScenarioOutcome, scenarioPath } from '../src/index.js';

const scenariosDir = dirname(scenarioPath('seed-incident'));
const work = mkdtempSync(join(tmpdir(), 'mp-otel-acceptance-'));
let emb: Embedded;
let ipRanges: Array<{ ip_start: number; ip_end: number; province: string; carrier: string }>;
const outcomes = new Map<string, ScenarioOutcome>();

beforeAll(async () => {
  emb = await startEmbedded({ dataDir: join(work, 'data'), otlpPort: 0, httpPort: 0, log: () => {} });
  ipRanges = [...readIp2Region()].filter((r) => r.carrier && r.province);
}, 300_000);
afterAll(async () => {
  await emb?.close();
  rmSync(work, { recursive: true, force: true });
});

async function run(file: string): Promise<ScenarioOutcome> {
  for (const t of ['otel_traces', 'otel_logs', 'mp_sli_1m', 'mp_sli_1h'])
    await emb.client.command({ query: `TRUNCATE TABLE ${emb.database}.${t}` });
  const outcome = await runScenario(loadScenario(join(scenariosDir, file)), {
    otlpUrl: emb.otlpUrl,
    ipRanges,
    client: emb.client,
    database: emb.database,
    flush: () => emb.flush(),
  });
  outcomes.set(file, outcome);
  return outcome;
}

describe.sequential('shipped scenarios', () => {
  const files = readdirSync(scenariosDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  for (const file of files) {
    // the timeout covers waiting for another simulation on this machine to finish (lock.ts, up to 10 min)
    test(file, { timeout: 900_000 }, async () => {
      const o = await run(file);
      const why = `${file}: ${formatDiagnosis(o.diagnosis)}\noutcomes ${JSON.stringify(o.simulation.outcomes)}`;
      expect(o.top1, why).toBe(true);
      expect(o.layerCorrect, why).toBe(true);
      if (o.expected?.culprit || o.expected?.set) {
        expect(o.minutesToCulprit, why).toBeDefined();
        expect(o.minutesToCulprit!, why).toBeLessThanOrEqual(2);
      } else {
        expect(o.diagnosis.anomaly, why).toBeUndefined();
        expect(o.simulation.noiseRequests).toBeGreaterThan(100); // the noise did happen
      }
    });
  }

  test('the incident report for the seed, rendered by headless Chromium', { timeout: 240_000 }, async () => {
    const seed = outcomes.get('seed-incident.yaml') ?? (await run('seed-incident.yaml'));
    const fault = seed.simulation.faults[0]!;
    const html = await renderReport({
      client: emb.client,
      database: emb.database,
      diagnosis: seed.diagnosis,
      events: [{ atMs: fault.fromMs, label: `fault injected: ${fault.name}` }],
    });
    expect(html).toContain('os.name=ios AND mp.base_library.version=3.5.0');
    expect(html).toMatch(/<svg[^>]*role="img"/);
    expect(html).toContain('UPLOAD_TRUNCATED');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained
    const page = join(work, 'report.html');
    const png = join(work, 'report.png');
    writeFileSync(page, html);
    execFileSync(join(__dirname, '../../../scripts/ensure-chromium.sh'), { stdio: 'inherit' });
    execFileSync(
      '/usr/bin/chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${join(work, 'chromium')}`,
        '--hide-scrollbars',
        '--window-size=1100,2400',
        `--screenshot=${png}`,
        `file://${page}`,
      ],
      { stdio: 'ignore', timeout: 60_000 },
    );
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1100, 2400]);
    expect(statSync(png).size).toBeGreaterThan(60_000); // charts and tables, not a blank page
  });
});
