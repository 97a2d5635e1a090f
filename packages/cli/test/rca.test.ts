// `mp-otel rca` on a CSV file and on a ClickHouse table (embedded chDB): the root-cause set as JSON, and input
// errors as exit code 2 with a message (names and values never reach the SQL unescaped).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded } from '@mp-otel/store';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-otel-rca-'));
const dataDir = join(dir, 'data');
const csv = join(dir, 'leaf.csv');
const T0 = 1_700_000_000;

/** 20 minutes × platform × base library × city; from minute 16 two elements fail at once. */
function leafRows(): string[][] {
  const rows: string[][] = [];
  for (let m = 0; m < 20; m++)
    for (const platform of ['ios', 'android'])
      for (const lib of ['3.4.10', '3.5.0'])
        for (const city of ['Beijing, BJ', 'Shanghai', 'Shenzhen']) {
          const failing =
            m >= 16 &&
            ((platform === 'ios' && lib === '3.5.0') || (platform === 'android' && lib === '3.4.10'));
          const total = 200;
          const bad = failing ? 70 : (m + city.length) % 3; // 0–2 background errors
          rows.push([String(T0 + 60 * m), platform, lib, city, String(bad), String(total)]);
        }
  return rows;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const espy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    out += `${a.join(' ')}\n`;
  });
  try {
    return { code: await main(args), out, err };
  } finally {
    spy.mockRestore();
    espy.mockRestore();
    log.mockRestore();
  }
}

const cols = ['--time', 'minute', '--bad', 'errors', '--total', 'requests'];

beforeAll(async () => {
  const q = (v: string) => (/[,"]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  writeFileSync(
    csv,
    `minute,platform,base_library,city,errors,requests\n${leafRows()
      .map((r) => r.map(q).join(','))
      .join('\n')}\n`,
  );
  const emb = await startEmbedded({
    dataDir,
    otlpPort: 0,
    httpPort: 0,
    catalog: false,
    geo: false,
    log: () => {},
  });
  try {
    await emb.client.command({
      query: `CREATE TABLE ${emb.database}.kpi (minute DateTime, platform String, base_library String, city String,
                errors UInt64, requests UInt64) ENGINE = MergeTree ORDER BY minute`,
    });
    await emb.client.insert({
      table: `${emb.database}.kpi`,
      format: 'JSONEachRow',
      values: leafRows().map(([t, platform, base_library, city, errors, requests]) => ({
        minute: Number(t),
        platform,
        base_library,
        city,
        errors: Number(errors),
        requests: Number(requests),
      })),
    });
  } finally {
    await emb.close();
  }
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mp-otel rca', () => {
  it('--csv --json: the anomaly, the root-cause set keyed by the CSV columns, and ranked culprits', async () => {
    const r = await run(['rca', '--csv', csv, ...cols, '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.anomaly.onset).toBe(T0 + 16 * 60);
    expect(j.set).toHaveLength(2);
    expect(j.set).toEqual(
      expect.arrayContaining([
        { platform: 'ios', base_library: '3.5.0' },
        { platform: 'android', base_library: '3.4.10' },
      ]),
    );
    expect(j.culprits[0]).toMatchObject({ inSet: true });
    expect(j.culprits[0].explains).toBeGreaterThan(0.4);
  });

  it('--at before the onset: no anomaly; text output', async () => {
    const r = await run(['rca', '--csv', csv, ...cols, '--at', String(T0 + 15 * 60)]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('rca: no anomaly');
    const later = await run(['rca', '--csv', csv, ...cols, '--at', String(T0 + 17 * 60)]);
    expect(later.out).toMatch(/root cause: \{.*\} \+ \{.*\}/);
  });

  it('--table on the embedded store gives the same set', async () => {
    const r = await run(['rca', '--table', 'kpi', '--data-dir', dataDir, ...cols, '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.set).toHaveLength(2);
    expect(j.set).toEqual(
      expect.arrayContaining([
        { platform: 'ios', base_library: '3.5.0' },
        { platform: 'android', base_library: '3.4.10' },
      ]),
    );
  }, 120_000);

  it('hostile or wrong input: exit code 2 with a message, nothing run', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['rca', ...cols], /needs --csv FILE or --table TABLE/],
      [['rca', '--csv', csv, '--time', 'minute', '--bad', 'errors'], /needs --total/],
      [['rca', '--csv', join(dir, 'missing.csv'), ...cols], /cannot read/],
      [['rca', '--csv', csv, ...cols, '--at', '1; DROP TABLE x'], /--at: not unix seconds/],
      [['rca', '--csv', csv, ...cols, '--max-dimensions', '40'], /--max-dimensions/],
      [
        ['rca', '--csv', csv, '--time', 'minute', '--bad', 'nope', '--total', 'requests'],
        /--bad column "nope"/,
      ],
      [['rca', '--table', 'kpi; DROP TABLE kpi', '--data-dir', dataDir, ...cols], /no table/],
      [['rca', '--table', 'a.b.c', '--data-dir', dataDir, ...cols], /expected TABLE or DATABASE.TABLE/],
      [
        [
          'rca',
          '--table',
          'kpi',
          '--data-dir',
          dataDir,
          '--time',
          'minute',
          '--bad',
          'errors`) --',
          '--total',
          'requests',
        ],
        /--bad column "errors`\) --" is not in/,
      ],
      [
        [
          'rca',
          '--table',
          'kpi',
          '--data-dir',
          dataDir,
          '--time',
          'city',
          '--bad',
          'errors',
          '--total',
          'requests',
        ],
        /not a time/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.out).toBe('');
    }
    // the table is still there
    const ok = await run(['rca', '--table', 'kpi', '--data-dir', dataDir, ...cols, '--json']);
    expect(JSON.parse(ok.out).rows).toBe(240);
  }, 120_000);
});
