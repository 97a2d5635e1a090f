import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/flags.js';
import { INGEST_OPTIONS, ingestOptions } from '../src/ingest-flags.js';

const parse = (args: string[]) => ingestOptions(parseArgs({ args, options: INGEST_OPTIONS }).values);

describe('mp-otel up: receiver flags', () => {
  it('map to the receiver options', () => {
    expect(parse([])).toEqual({ ack: 'logged' });
    expect(parse(['--ack-written'])).toEqual({ ack: 'written' });
    expect(
      parse([
        '--require-keys',
        '--trusted-proxy',
        '10.0.0.0/8',
        '--trusted-proxy',
        'loopback',
        '--max-items-per-request',
        '5000',
        '--min-body-rate',
        '2048',
      ]),
    ).toEqual({
      ack: 'logged',
      requireKeys: true,
      trustedProxies: ['10.0.0.0/8', 'loopback'],
      maxItemsPerRequest: 5000,
      minBodyBytesPerSecond: 2048,
    });
    expect(parse(['--trusted-proxy', 'none'])).toEqual({ ack: 'logged', trustedProxies: [] });
  });
  it('refuse what is not a positive whole number', () => {
    expect(() => parse(['--max-body-bytes', 'abc'])).toThrow(
      /--max-body-bytes must be a positive whole number/,
    );
    expect(() => parse(['--max-items-per-request', '0'])).toThrow(/positive/);
    expect(() => parse(['--max-requests-per-peer', '1.5'])).toThrow(/positive/);
    // the CLI's usage error: `mp-otel up` exits 2 with the message, like every other bad flag
    expect(() => parse(['--min-body-rate', 'fast'])).toThrow(UsageError);
  });
});
