// The telemetry names are one contract: src/names.ts is what the declarative file generates, and every
// attribute name the other runtimes spell out (SQL migrations, the collector's OTTL, Kong's config, the
// generated Grafana dashboards) is one of them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { renderNames } from '../scripts/generate-names.mjs';
import { ATTRIBUTE_NAMES } from '../src/names.js';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const repo = join(pkg, '../..');
const read = (...p: string[]) => readFileSync(join(...p), 'utf8');
const files = (dir: string, ext: string) =>
  readdirSync(join(repo, dir))
    .filter((f) => f.endsWith(ext))
    .map((f) => join(repo, dir, f));

/** Names inside `…Attributes['x']` (SQL) and `attributes["x"]` (OTTL). */
function attributeNames(text: string): string[] {
  return [...text.matchAll(/[Aa]ttributes\[\\?["']([^"'\\]+)\\?["']\]/g)].map((m) => m[1] as string);
}

describe('telemetry names', () => {
  test('src/names.ts is generated from telemetry-names.yaml', () => {
    const generated = renderNames(read(pkg, 'telemetry-names.yaml'));
    // the committed file is the generator's output, formatted by Biome (identical for these lines)
    expect(read(pkg, 'src/names.ts')).toBe(generated);
  });

  test.each([
    ['clickhouse/migrations', '.sql'],
    ['collector', '.yaml'],
    ['grafana/dashboards', '.json'],
  ])('%s uses only declared attribute names', (dir, ext) => {
    const used = new Set(files(dir, ext).flatMap((f) => attributeNames(read(f))));
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((n) => !ATTRIBUTE_NAMES.includes(n))).toEqual([]);
  });

  test("Kong's route plugins set only declared resource attributes", () => {
    const kong = parse(read(repo, 'kong/kong.yml'));
    const keys = new Set<string>();
    for (const s of kong.services ?? [])
      for (const r of s.routes ?? [])
        for (const p of r.plugins ?? [])
          for (const k of Object.keys(p.config?.resource_attributes ?? {})) keys.add(k);
    expect(keys.size).toBeGreaterThan(0);
    expect([...keys].filter((n) => !ATTRIBUTE_NAMES.includes(n))).toEqual([]);
  });

  test('a misspelt name is caught', () => {
    expect(
      attributeNames(`SpanAttributes['mp.route_nmae']`).filter((n) => !ATTRIBUTE_NAMES.includes(n)),
    ).toEqual(['mp.route_nmae']);
  });
});
