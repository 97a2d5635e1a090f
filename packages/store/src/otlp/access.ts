// Who may send telemetry to the embedded receiver, and from where it came:
// - ingest keys: the catalog's apps[].keys, sent in the INGEST_KEY_HEADER header (public, revocable: remove
//   one from the catalog). An unknown key is refused (401) whenever it is sent; a missing key is refused
//   when keys are required (the listener is reachable from other hosts, or --require-keys).
// - quotas: apps[].quota per app (requests_per_second, burst) and per app and client IP
//   (per_ip_requests_per_second), token buckets; over quota → 429 with Retry-After.
// - the client address: the socket's peer, or X-Real-IP / X-Forwarded-For when (and only when) the peer is
//   a configured trusted proxy.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { type CatalogApp, INGEST_KEY_HEADER } from '@mp-otel/contracts';

export class AccessError extends Error {
  constructor(
    readonly status: 401 | 429,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** '::ffff:1.2.3.4' → '1.2.3.4'; '' when not an address. */
export function normaliseIp(addr: string | undefined): string {
  if (!addr) return '';
  let a = addr.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (m) a = m[1] as string;
  return isIP(a) ? a.toLowerCase() : '';
}

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/**
 * A set of networks from CIDR strings ("10.0.0.0/8", "2001:db8::/32", a bare address) and the keyword
 * "loopback". Throws on anything else (a flag typo must not silently trust nobody or everybody).
 */
export function parseNetworks(specs: readonly string[]): { has(ip: string): boolean; specs: string[] } {
  const list = new BlockList();
  const out: string[] = [];
  for (const raw of specs) {
    for (const spec of raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const expanded = spec === 'loopback' ? LOOPBACK : [spec];
      for (const s of expanded) {
        const [addr, bits, extra] = s.split('/');
        const ip = normaliseIp(addr);
        const family = isIP(ip);
        const max = family === 6 ? 128 : 32;
        const prefix = bits === undefined ? max : Number(bits);
        if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
          throw new Error(
            `invalid trusted proxy "${s}": use an address, a CIDR such as 10.0.0.0/8, or "loopback"`,
          );
        list.addSubnet(ip, prefix, family === 6 ? 'ipv6' : 'ipv4');
        out.push(`${ip}/${prefix}`);
      }
    }
  }
  return {
    specs: out,
    has: (ip: string) => {
      const a = normaliseIp(ip);
      const f = isIP(a);
      return f !== 0 && list.check(a, f === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

let loopback: ReturnType<typeof parseNetworks> | undefined;

/** True for addresses of this machine only (the client address is meaningless for geo then). */
export const isLoopbackIp = (ip: string): boolean => {
  loopback ??= parseNetworks(['loopback']);
  return ip !== '' && loopback.has(ip);
};

/** Whether a listen host is loopback-only (127.0.0.0/8, ::1, localhost). */
export const isLoopbackHost = (host: string): boolean => host === 'localhost' || isLoopbackIp(host);

class Bucket {
  private tokens: number;
  private at = Date.now();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  /** 0 when a token was taken, else the seconds until one is available (≥ 1). */
  take(now = Date.now()): number {
    // (a bucket made within this call may be stamped a millisecond after `now`)
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.at) / 1000) * this.rate);
    this.at = Math.max(this.at, now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
  }
  full(now = Date.now()): boolean {
    return this.tokens + (Math.max(0, now - this.at) / 1000) * this.rate >= this.burst;
  }
}

interface AppState {
  app: CatalogApp;
  bucket?: Bucket;
  perIp: Map<string, Bucket>;
}

export interface Principal {
  /** the app's name (service.name) when a key was sent */
  app?: string;
  keyId?: string;
}

export interface AccessOptions {
  apps?: readonly CatalogApp[];
  /** refuse requests without a key (401) */
  requireKeys: boolean;
  /** networks whose X-Real-IP / X-Forwarded-For are believed */
  trustedProxies: readonly string[];
}

const MAX_IP_BUCKETS = 100_000;

export class IngestAccess {
  private readonly byKey = new Map<string, { state: AppState; keyId: string }>();
  private readonly trusted: ReturnType<typeof parseNetworks>;
  readonly requireKeys: boolean;
  readonly keyCount: number;

  constructor(o: AccessOptions) {
    this.trusted = parseNetworks(o.trustedProxies);
    this.requireKeys = o.requireKeys;
    for (const app of o.apps ?? []) {
      const q = app.quota;
      const state: AppState = {
        app,
        bucket: q?.requests_per_second
          ? new Bucket(q.requests_per_second, q.burst ?? Math.max(1, Math.ceil(q.requests_per_second)))
          : undefined,
        perIp: new Map(),
      };
      for (const k of app.keys) this.byKey.set(k.key, { state, keyId: k.id });
    }
    this.keyCount = this.byKey.size;
  }

  get trustedProxies(): string[] {
    return this.trusted.specs;
  }

  /**
   * The client's address: the peer, or — only when the peer is a trusted proxy — X-Real-IP, else the
   * right-most X-Forwarded-For entry that is not itself a trusted proxy.
   */
  clientIp(req: IncomingMessage): string {
    const peer = normaliseIp(req.socket.remoteAddress);
    if (!this.trusted.has(peer)) return peer;
    const real = req.headers['x-real-ip'];
    const r = normaliseIp(Array.isArray(real) ? real[0] : real);
    if (r) return r;
    const xff = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').map(normaliseIp);
    for (let i = hops.length - 1; i >= 0; i--) {
      const h = hops[i] as string;
      if (!h) break; // a malformed hop: stop believing the chain
      if (!this.trusted.has(h)) return h;
    }
    return peer;
  }

  /** Authenticates and charges the quota; throws AccessError (401/429). */
  check(req: IncomingMessage, clientIp: string, now = Date.now()): Principal {
    const raw = req.headers[INGEST_KEY_HEADER];
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (key === undefined || key === '') {
      if (this.requireKeys)
        throw new AccessError(
          401,
          `an ingest key is required: send your app's key (the catalog's apps[].keys) in the ${INGEST_KEY_HEADER} header`,
        );
      return {};
    }
    const found = this.byKey.get(key);
    if (!found)
      throw new AccessError(
        401,
        `unknown or revoked ingest key in ${INGEST_KEY_HEADER}: use a key listed in the catalog's apps[].keys`,
      );
    const { state, keyId } = found;
    const app = state.app.name;
    const wait = state.bucket?.take(now) ?? 0;
    if (wait > 0)
      throw new AccessError(
        429,
        `app ${app} is over its quota of ${state.app.quota?.requests_per_second} requests/s: retry after ${wait} s`,
        wait,
      );
    const perIp = state.app.quota?.per_ip_requests_per_second;
    // loopback clients are processes of this machine (a local proxy that names no client, tools), not the fleet
    if (perIp && clientIp && !isLoopbackIp(clientIp)) {
      let b = state.perIp.get(clientIp);
      if (!b) {
        if (state.perIp.size >= MAX_IP_BUCKETS) {
          for (const [ip, x] of state.perIp) if (x.full(now)) state.perIp.delete(ip);
        }
        b = new Bucket(perIp, Math.max(1, Math.ceil(perIp)));
        if (state.perIp.size < MAX_IP_BUCKETS) state.perIp.set(clientIp, b);
      }
      const w = b.take(now);
      if (w > 0)
        throw new AccessError(
          429,
          `client ${clientIp} is over app ${app}'s quota of ${perIp} requests/s per client address: retry after ${w} s`,
          w,
        );
    }
    return { app, keyId };
  }
}
