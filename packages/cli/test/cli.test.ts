// `mp-otel query` prints a table; `mp-otel catalog check` validates the catalog.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-otel-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    out += `${a.join(' ')}\n`;
  });
  try {
    return { code: await main(args), out };
  } finally {
    spy.mockRestore();
    log.mockRestore();
  }
}

describe('mp-otel CLI', () => {
  it('query prints a table (against a data directory, no server)', async () => {
    const r = await run([
      'query',
      '--data-dir',
      dir,
      "SELECT number AS n, concat('row-', toString(number)) AS label FROM numbers(2)",
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      ['| n | label |', '|---|-------|', '| 0 | row-0 |', '| 1 | row-1 |', '2 rows', ''].join('\n'),
    );
  });

  it('catalog check validates the shipped catalog', async () => {
    const r = await run(['catalog', 'check']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/catalog ok: \d+ routes/);
  });
});
