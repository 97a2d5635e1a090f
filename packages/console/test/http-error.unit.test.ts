import { describe, expect, it } from 'vitest';
import { HttpError, int, parseRange, parseTime, text } from '../src/http-error.js';

const now = Date.UTC(2026, 11, 6, 12, 0, 0);

describe('request parameters', () => {
  it('times as Grafana URLs write them', () => {
    expect(parseTime('now', now, 0)).toBe(now);
    expect(parseTime('now-15m', now, 0)).toBe(now - 15 * 60_000);
    expect(parseTime('now-7d', now, 0)).toBe(now - 7 * 86_400_000);
    expect(parseTime('1796540000000', now, 0)).toBe(1796540000000);
    expect(parseTime(null, now, 42)).toBe(42);
    for (const bad of ['yesterday', 'now-', 'now-5x', "1') OR 1=1", '1e12', '-5'])
      expect(() => parseTime(bad, now, 0), bad).toThrow(HttpError);
  });
  it('a range is non-empty and at most 400 days', () => {
    expect(parseRange(new URLSearchParams('from=now-6h&to=now'), now, 'now-1h')).toEqual({
      from: now - 6 * 3_600_000,
      to: now,
    });
    expect(parseRange(new URLSearchParams(''), now, 'now-1h')).toEqual({ from: now - 3_600_000, to: now });
    expect(() => parseRange(new URLSearchParams('from=now&to=now-1h'), now, 'now-1h')).toThrow(/empty/);
    expect(() => parseRange(new URLSearchParams('from=now-2y'), now, 'now-1h')).toThrow(/400 days/);
  });
  it('bounded text and integers, with a 400 and a message otherwise', () => {
    expect(text(new URLSearchParams('q=%20abc%20'), 'q')).toBe('abc');
    expect(() => text(new URLSearchParams(`q=${'x'.repeat(300)}`), 'q')).toThrow(/longer than 256/);
    expect(int(new URLSearchParams('n=5'), 'n', 1, 3)).toBe(3);
    expect(int(new URLSearchParams(''), 'n', 1, 3)).toBe(1);
    try {
      int(new URLSearchParams('n=-1'), 'n', 1, 3);
      expect.unreachable();
    } catch (e) {
      expect((e as HttpError).status).toBe(400);
    }
  });
});
