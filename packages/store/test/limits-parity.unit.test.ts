// The embedded receiver's attribute caps are the production collector's (transform/normalize in
// collector/config.template.yaml): this reads the collector's config and fails when the two drift apart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@mp-otel/devkit';
import { describe, expect, it } from 'vitest';
import { ATTRIBUTE_CAPS, LOG_PRIORITY_KEYS, SPAN_PRIORITY_KEYS, truncateUtf8 } from '../src/otlp/limits.js';

const config = readFileSync(join(repoRoot(), 'collector/config.template.yaml'), 'utf8');
const num = (re: RegExp): number => {
  const m = re.exec(config);
  if (!m) throw new Error(`not in collector/config.template.yaml: ${re}`);
  return Number(m[1]);
};
const limitOf = (ctx: string): { max: number; keys: string[] } => {
  const m = new RegExp(`limit\\(${ctx}\\.attributes, (\\d+), \\[([^\\]]*)\\]\\)`).exec(config);
  if (!m) throw new Error(`no limit(${ctx}.attributes, …) in the collector config`);
  return { max: Number(m[1]), keys: JSON.parse(`[${m[2]}]`) };
};

describe("attribute caps match the collector's", () => {
  it('value lengths per context', () => {
    expect(ATTRIBUTE_CAPS.resourceValueBytes).toBe(num(/truncate_all\(resource\.attributes, (\d+)\)/));
    expect(ATTRIBUTE_CAPS.spanValueBytes).toBe(num(/truncate_all\(span\.attributes, (\d+)\)/));
    expect(ATTRIBUTE_CAPS.spanEventValueBytes).toBe(num(/truncate_all\(spanevent\.attributes, (\d+)\)/));
    expect(ATTRIBUTE_CAPS.logValueBytes).toBe(num(/truncate_all\(log\.attributes, (\d+)\)/));
    expect(ATTRIBUTE_CAPS.logBodyBytes).toBe(num(/Substring\(log\.body, 0, (\d+)\)/));
  });
  it('attribute counts and the keys always kept', () => {
    expect(limitOf('span')).toEqual({ max: ATTRIBUTE_CAPS.spanAttributes, keys: [...SPAN_PRIORITY_KEYS] });
    expect(limitOf('log')).toEqual({ max: ATTRIBUTE_CAPS.logAttributes, keys: [...LOG_PRIORITY_KEYS] });
  });
  it('truncates on character boundaries, by UTF-8 bytes', () => {
    expect(truncateUtf8('abc', 2)).toBe('ab');
    expect(truncateUtf8('éé', 3)).toBe('é');
    expect(truncateUtf8('a😀', 4)).toBe('a');
    expect(truncateUtf8('a😀', 5)).toBe('a😀');
    expect(truncateUtf8('x'.repeat(5000), 4096)).toHaveLength(4096);
    expect(Buffer.byteLength(truncateUtf8('中'.repeat(2000), 4096))).toBe(4095);
  });
});
