// The durable offline queue: serialized OTLP/JSON payloads kept in wx storage until the collector takes
// them. Bounded in bytes; errors outlive routine spans; oldest go first; every loss is counted.
// Each payload carries a stable `x-mp-otel-batch` id, identical on every retry and after an app restart,
// so a receiver can drop a repeat of a payload it already took (a retry whose first try had in fact
// succeeded, or an app killed before it could forget a sent payload).
import { callAsync, type Platform } from './platform';
import { randomHex } from './resource';
import { utf8Length } from './shims';

export type Signal = 'traces' | 'logs';
export const PRIORITY_ROUTINE = 0;
export const PRIORITY_ERROR = 1;

/** Why records were dropped; reported by the SDK itself as `mp.telemetry.dropped`. */
export type DropReason = 'queue_full' | 'rate_limited' | 'too_large' | 'rejected' | 'sampled_out';

interface Entry {
  id: string;
  signal: Signal;
  priority: number;
  body: string;
  bytes: number;
  records: number;
  tries: number;
  notBefore: number;
  sending?: boolean;
}

export interface QueueOptions {
  /** Base URL; payloads go to `${endpoint}/v1/${signal}`. */
  endpoint: string;
  /** Total bytes kept (default 1 MB). */
  maxBytes: number;
  /** Largest payload stored under one storage key (WeChat allows 1 MB per key). */
  chunkBytes: number;
  /** Telemetry requests in flight at once: WeChat shares 10 between the app and us. */
  maxInFlight: number;
  timeoutMs: number;
  headers: Record<string, string>;
  /** Storage key prefix; empty disables persistence. */
  storageKey: string;
}

const MAX_BACKOFF_MS = 60_000;

export class OfflineQueue {
  private entries: Entry[] = [];
  private dropped: Partial<Record<DropReason, number>> = {};
  private inFlight = 0;
  private blockedUntil = 0;
  private online = true;
  private ready = false;
  private timer: any;
  private indexWrite: any;
  private waiters: Array<() => void> = [];
  private seq = 0;
  private readonly idPrefix = randomHex(12);
  readonly loaded: Promise<void>;

  constructor(
    private readonly platform: Platform,
    private readonly options: QueueOptions,
  ) {
    this.loaded = this.load();
  }

  /** Adds a serialized payload; never throws. */
  push(signal: Signal, body: string, records: number, priority: number): void {
    const bytes = utf8Length(body);
    if (bytes > this.options.chunkBytes) {
      const halves = splitPayload(signal, body);
      if (halves) for (const half of halves) this.push(signal, half.body, half.records, priority);
      else this.count('too_large', records);
      return;
    }
    if (!this.makeRoom(bytes, priority)) return this.count('queue_full', records);
    const entry: Entry = {
      id: this.idPrefix + (this.seq++).toString(36),
      signal,
      priority,
      body,
      bytes,
      records,
      tries: 0,
      notBefore: 0,
    };
    this.entries.push(entry);
    this.store(`${this.options.storageKey}.${entry.id}`, body);
    this.saveIndex();
    this.pump();
  }

  count(reason: DropReason, records = 1): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + records;
    this.saveIndex();
  }

  /** The drop counters since the last call, reset; undefined when nothing was dropped. */
  takeDropped(): Partial<Record<DropReason, number>> | undefined {
    const dropped = this.dropped;
    if (Object.keys(dropped).length === 0) return undefined;
    this.dropped = {};
    this.saveIndex();
    return dropped;
  }

  get size(): { entries: number; bytes: number; records: number } {
    let bytes = 0;
    let records = 0;
    for (const e of this.entries) {
      bytes += e.bytes;
      records += e.records;
    }
    return { entries: this.entries.length, bytes, records };
  }

  setOnline(online: boolean): void {
    this.online = online;
    if (online) {
      for (const e of this.entries) e.notBefore = 0;
      this.pump();
    }
    this.settle();
  }

  /** Resolves once nothing more can be sent right now (all sent, or waiting on backoff/offline). */
  flush(): Promise<void> {
    return this.loaded.then(
      () =>
        new Promise<void>((resolve) => {
          this.waiters.push(resolve);
          this.pump();
          this.settle();
        }),
    );
  }

  stop(): void {
    clearTimeout(this.timer);
    this.online = false;
    this.settle();
  }

  /** Evicts lower- or equal-priority payloads, oldest first, until `bytes` fit. */
  private makeRoom(bytes: number, priority: number): boolean {
    if (bytes > this.options.maxBytes) return false;
    let total = this.size.bytes;
    while (total + bytes > this.options.maxBytes) {
      let victim: Entry | undefined;
      for (const e of this.entries) if (!e.sending && (!victim || e.priority < victim.priority)) victim = e;
      if (!victim || victim.priority > priority) return false;
      this.remove(victim);
      this.count('queue_full', victim.records);
      total -= victim.bytes;
    }
    return true;
  }

  pump(): void {
    if (!this.ready || !this.online) return;
    const now = Date.now();
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight < this.options.maxInFlight) {
      if (now < this.blockedUntil) return this.wake(this.blockedUntil - now);
      let next: Entry | undefined;
      let wakeAt = Number.POSITIVE_INFINITY;
      for (const e of this.entries) {
        if (e.sending) continue;
        if (e.notBefore > now) wakeAt = Math.min(wakeAt, e.notBefore);
        else if (!next || e.priority > next.priority) next = e;
      }
      if (!next) {
        if (wakeAt < Number.POSITIVE_INFINITY) this.wake(wakeAt - now);
        break;
      }
      this.send(next);
    }
    this.settle();
  }

  private wake(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), ms);
    this.settle();
  }

  private send(entry: Entry): void {
    const { platform, options } = this;
    entry.sending = true;
    this.inFlight++;
    let finished = false;
    const finish = (status: number, headers?: Record<string, unknown>) => {
      if (finished) return;
      finished = true;
      this.inFlight--;
      entry.sending = false;
      this.settleEntry(entry, status, headers);
      this.pump();
    };
    try {
      platform.api[platform.requestApi]({
        url: `${options.endpoint}/v1/${entry.signal}`,
        method: 'POST',
        data: entry.body,
        dataType: 'text',
        responseType: 'text',
        timeout: options.timeoutMs,
        [platform.headerField]: {
          ...options.headers,
          'content-type': 'application/json',
          'x-mp-otel-batch': entry.id,
        },
        success: (res: any) =>
          finish(Number(res?.[platform.statusField] ?? 0), res?.[platform.headerField] ?? res?.header),
        fail: () => finish(0),
      });
    } catch {
      finish(0);
    }
  }

  private settleEntry(entry: Entry, status: number, headers?: Record<string, unknown>): void {
    if (status >= 200 && status < 300) return this.remove(entry);
    if (status === 413) {
      const halves = splitPayload(entry.signal, entry.body);
      this.remove(entry);
      if (halves) for (const half of halves) this.push(entry.signal, half.body, half.records, entry.priority);
      else this.count('too_large', entry.records);
      return;
    }
    const retryable = status === 0 || status === 429 || status === 502 || status === 503 || status === 504;
    if (!retryable) {
      this.remove(entry);
      return this.count('rejected', entry.records);
    }
    entry.tries++;
    const retryAfter = parseRetryAfter(headerValue(headers, 'retry-after'));
    if (retryAfter !== undefined) this.blockedUntil = Date.now() + retryAfter;
    else {
      const backoff = Math.min(1000 * 2 ** (entry.tries - 1), MAX_BACKOFF_MS);
      entry.notBefore = Date.now() + backoff * (0.5 + Math.random() / 2);
    }
    this.saveIndex();
  }

  private remove(entry: Entry): void {
    const i = this.entries.indexOf(entry);
    if (i < 0) return;
    this.entries.splice(i, 1);
    if (this.options.storageKey) callAsync(this.platform.api, 'removeStorage', { key: `${this.options.storageKey}.${entry.id}` });
    this.saveIndex();
  }

  private settle(): void {
    if (this.inFlight > 0) return;
    const now = Date.now();
    const sendableNow =
      this.ready && this.online && now >= this.blockedUntil && this.entries.some((e) => e.notBefore <= now);
    if (sendableNow) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private store(key: string, data: unknown): void {
    if (this.options.storageKey) callAsync(this.platform.api, 'setStorage', { key, data });
  }

  /** Index writes are coalesced: one per turn of the event loop at most. */
  private saveIndex(): void {
    if (!this.options.storageKey || this.indexWrite || !this.ready) return;
    this.indexWrite = setTimeout(() => {
      this.indexWrite = undefined;
      this.store(this.options.storageKey, {
        v: 1,
        dropped: this.dropped,
        entries: this.entries.map(({ id, signal, priority, bytes, records, tries }) => ({
          id,
          signal,
          priority,
          bytes,
          records,
          tries,
        })),
      });
    }, 0);
  }

  /** Restores what an earlier run of the app left; asynchronous so that start-up is never blocked. */
  private async load(): Promise<void> {
    const { api } = this.platform;
    const key = this.options.storageKey;
    const restored: Entry[] = [];
    if (key) {
      const index = (await callAsync(api, 'getStorage', { key }))?.data;
      for (const meta of Array.isArray(index?.entries) ? index.entries : []) {
        const body = (await callAsync(api, 'getStorage', { key: `${key}.${meta.id}` }))?.data;
        if (typeof body === 'string') restored.push({ ...meta, body, notBefore: 0 });
      }
      for (const [reason, n] of Object.entries(index?.dropped ?? {})) {
        this.dropped[reason as DropReason] = (this.dropped[reason as DropReason] ?? 0) + Number(n);
      }
    }
    // What an earlier run left is older than anything pushed while we were reading it.
    this.entries = [...restored, ...this.entries];
    this.makeRoom(0, PRIORITY_ERROR);
    this.ready = true;
    this.saveIndex();
    this.pump();
  }
}

function headerValue(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  for (const key in headers) if (key.toLowerCase() === name) return String(headers[key]);
  return undefined;
}

/** Retry-After as delta-seconds or an HTTP date → milliseconds. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 3_600_000) : undefined;
}

const CONTAINERS = {
  traces: ['resourceSpans', 'scopeSpans', 'spans'],
  logs: ['resourceLogs', 'scopeLogs', 'logRecords'],
} as const;

/** Splits an OTLP/JSON payload into two payloads with half the records each (undefined: can't split). */
export function splitPayload(signal: Signal, body: string): Array<{ body: string; records: number }> | undefined {
  const [resourceKey, scopeKey, recordKey] = CONTAINERS[signal];
  let leaves: Array<[any, any, unknown]> = [];
  try {
    for (const r of JSON.parse(body)[resourceKey]) for (const s of r[scopeKey]) for (const x of s[recordKey]) leaves.push([r, s, x]);
  } catch {
    return undefined;
  }
  if (leaves.length < 2) return undefined;
  const half = leaves.length >> 1;
  return [leaves.slice(0, half), leaves.slice(half)].map((part) => {
    const resources = new Map<any, Map<any, unknown[]>>();
    for (const [r, s, x] of part) {
      const scopes = resources.get(r) ?? resources.set(r, new Map()).get(r)!;
      (scopes.get(s) ?? scopes.set(s, []).get(s)!).push(x);
    }
    const doc = {
      [resourceKey]: [...resources].map(([r, scopes]) => ({
        ...r,
        [scopeKey]: [...scopes].map(([s, records]) => ({ ...s, [recordKey]: records })),
      })),
    };
    return { body: JSON.stringify(doc), records: part.length };
  });
}
