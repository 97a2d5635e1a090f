// Flag values checked before anything runs: a bad value is a clear error naming the flag, never a silent
// default (`--ttl-days abc` used to turn retention off; `--kpi bogus` was accepted).

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A whole number in [min, max], or undefined when the flag is absent. */
export function intFlag(
  name: string,
  value: string | undefined,
  range: { min: number; max: number; what?: string },
): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!/^\d+$/.test(v) || Number(v) < range.min || Number(v) > range.max)
    throw new UsageError(
      `${name}: expected ${range.what ?? 'a whole number'} from ${range.min} to ${range.max}, got ${JSON.stringify(value)}`,
    );
  return Number(v);
}

export const portFlag = (name: string, value: string | undefined) =>
  intFlag(name, value, { min: 0, max: 65535, what: 'a port (0 = any free port)' });

export const daysFlag = (name: string, value: string | undefined) =>
  intFlag(name, value, { min: 0, max: 36500, what: 'a number of days (0 = keep forever)' });

/** The retention variables, checked the same way as --ttl-days (migrations read them). */
export function checkRetentionEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const k of ['MP_OTEL_TTL_DAYS', 'MP_OTEL_CUBE_TTL_DAYS', 'MP_OTEL_ROLLUP_TTL_DAYS'])
    if (env[k] !== undefined && env[k] !== '') daysFlag(k, env[k]);
}

/** One of a fixed set of words. */
export function choiceFlag<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value))
    throw new UsageError(`${name}: expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** A listen address: an IP literal or a host name (no scheme, no port). */
export function hostFlag(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^(?:[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:.]{2,45})$/.test(value))
    throw new UsageError(
      `${name}: expected an address such as 127.0.0.1 or 0.0.0.0, got ${JSON.stringify(value)}`,
    );
  return value;
}

/** A comma-separated list of host names. */
export function hostListFlag(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const h of list) hostFlag(name, h);
  return list;
}

/** An http(s) URL. */
export function urlFlag(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`${name}: not a URL: ${JSON.stringify(value)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`${name}: expected an http:// or https:// URL, got ${JSON.stringify(value)}`);
  return value;
}
