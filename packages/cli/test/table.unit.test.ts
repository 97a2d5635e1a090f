import { describe, expect, it } from 'vitest';
import { formatTable } from '../src/table.js';

describe('mp-otel CLI tables', () => {
  it('formatTable renders empty results and objects', () => {
    expect(formatTable([])).toBe('(no rows)\n');
    expect(formatTable([{ m: { a: '1' } }])).toContain('{"a":"1"}');
  });
});
