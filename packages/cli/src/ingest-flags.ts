// `mp-otel up` flags of the embedded OTLP receiver: who may send (ingest keys), whose forwarding headers
// are believed (trusted proxies), and what one request may cost. Validated here: a typo is an error, not
// a silently different limit.
import type { EmbeddedOptions } from '@mp-otel/store';
import { UsageError } from './flags.js';

export const INGEST_OPTIONS = {
  'require-keys': { type: 'boolean' },
  'trusted-proxy': { type: 'string', multiple: true },
  'max-items-per-request': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'max-decompressed-bytes': { type: 'string' },
  'max-requests-per-peer': { type: 'string' },
  'min-body-rate': { type: 'string' },
  'ack-written': { type: 'boolean' },
} as const;

export const INGEST_USAGE = `             [--require-keys] [--trusted-proxy CIDR|loopback|none]... [--max-items-per-request 20000]
             [--max-body-bytes N] [--max-decompressed-bytes N] [--max-requests-per-peer 32]
             [--min-body-rate 1024 (bytes/s)] [--ack-written]
`;

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive whole number, not "${v}"`);
  return n;
}

type Values = {
  [K in keyof typeof INGEST_OPTIONS]?: (typeof INGEST_OPTIONS)[K] extends { multiple: true }
    ? string[]
    : (typeof INGEST_OPTIONS)[K]['type'] extends 'boolean'
      ? boolean
      : string;
};

/** The receiver options the flags set (absent flags: the receiver's defaults). */
export function ingestOptions(values: Values): Partial<EmbeddedOptions> {
  // trace requests are answered once in the ingest log (inserted right after, in big batches);
  // --ack-written answers once inserted (read-your-writes, slower)
  const o: Partial<EmbeddedOptions> = { ack: values['ack-written'] ? 'written' : 'logged' };
  if (values['require-keys']) o.requireKeys = true;
  const proxies = values['trusted-proxy'];
  if (proxies && proxies.length > 0) o.trustedProxies = proxies.includes('none') ? [] : proxies;
  const items = positiveInt('max-items-per-request', values['max-items-per-request']);
  if (items !== undefined) o.maxItemsPerRequest = items;
  const body = positiveInt('max-body-bytes', values['max-body-bytes']);
  if (body !== undefined) o.maxBodyBytes = body;
  const dec = positiveInt('max-decompressed-bytes', values['max-decompressed-bytes']);
  if (dec !== undefined) o.maxDecompressedBytes = dec;
  const peer = positiveInt('max-requests-per-peer', values['max-requests-per-peer']);
  if (peer !== undefined) o.maxRequestsPerPeer = peer;
  const rate = positiveInt('min-body-rate', values['min-body-rate']);
  if (rate !== undefined) o.minBodyBytesPerSecond = rate;
  return o;
}
