import { relativeMs } from '@mp-otel/grafana';

/** An error answered with its status and message (4xx: the request was wrong; never a 500 for input). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Longest range a request may ask for (bounded cost). */
export const MAX_RANGE_MS = relativeMs('400d');

/** A time as Grafana's URLs write it: `now`, `now-6h`, epoch milliseconds. */
export function parseTime(value: string | null | undefined, now: number, fallback: number): number {
  if (value === null || value === undefined || value === '') return fallback;
  if (value === 'now') return now;
  const rel = /^now-(\d{1,6})([smhdwMy])$/.exec(value);
  if (rel) return now - relativeMs(value);
  if (/^\d{10,16}$/.test(value)) return Number(value);
  throw new HttpError(
    400,
    `bad time ${JSON.stringify(value.slice(0, 40))}: use now, now-<n><s|m|h|d|w|M|y> or epoch milliseconds`,
  );
}

export function parseRange(
  q: URLSearchParams,
  now: number,
  defaultFrom: string,
): { from: number; to: number } {
  const to = parseTime(q.get('to'), now, now);
  const from = parseTime(q.get('from'), to, parseTime(defaultFrom, to, to - relativeMs('6h')));
  if (!(from < to)) throw new HttpError(400, 'the time range is empty: from must be before to');
  if (to - from > MAX_RANGE_MS) throw new HttpError(400, 'the time range is longer than 400 days');
  return { from, to };
}

/** A text parameter, bounded in length. */
export function text(q: URLSearchParams, name: string, max = 256): string {
  const v = q.get(name) ?? '';
  if (v.length > max) throw new HttpError(400, `${name}: longer than ${max} characters`);
  return v.trim();
}

/** A non-negative integer parameter. */
export function int(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (!/^\d{1,12}$/.test(v)) throw new HttpError(400, `${name}: not a non-negative integer`);
  return Math.min(Number(v), max);
}
