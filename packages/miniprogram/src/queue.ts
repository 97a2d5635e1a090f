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
  private entries_: Entry[] = [];
  private dropped_: Partial<Record<DropReason, number>> = {};
  private inFlight_ = 0;
  private blockedUntil_ = 0;
  private online_ = true;
  private ready_ = false;
  private timer_: any;
  private indexWrite_: any;
  private waiters_: Array<() => void> = [];
  private seq_ = 0;
  private readonly idPrefix_ = randomHex(12);
  readonly loaded: Promise<void>;

  constructor(
    private readonly platform_: Platform,
    private readonly options_: QueueOptions,
  ) {
    this.loaded = this.load_();
  }

  /** Adds a serialized payload; never throws. */
  push(signal: Signal, body: string, records: number, priority: number, bytes = utf8Length(body)): void {
    if (bytes > this.options_.chunkBytes) {
      const halves = splitPayload(signal, body);
      if (halves) for (const half of halves) this.push(signal, half.body, half.records, priority);
      else this.count('too_large', records);
      return;
    }
    if (!this.makeRoom_(bytes, priority)) {
      this.count('queue_full', records);
      return;
    }
    const entry: Entry = {
      id: this.idPrefix_ + (this.seq_++).toString(36),
      signal,
      priority,
      body,
      bytes,
      records,
      tries: 0,
      notBefore: 0,
    };
    this.entries_.push(entry);
    this.store_(`${this.options_.storageKey}.${entry.id}`, body);
    this.saveIndex_();
    this.pump();
  }

  count(reason: DropReason, records = 1): void {
    this.dropped_[reason] = (this.dropped_[reason] || 0) + records;
    this.saveIndex_();
  }

  /** The drop counters since the last call, reset; undefined when nothing was dropped. */
  takeDropped(): Partial<Record<DropReason, number>> | undefined {
    const dropped = this.dropped_;
    if (Object.keys(dropped).length === 0) return undefined;
    this.dropped_ = {};
    this.saveIndex_();
    return dropped;
  }

  get size(): { entries: number; bytes: number; records: number } {
    let bytes = 0;
    let records = 0;
    for (const e of this.entries_) {
      bytes += e.bytes;
      records += e.records;
    }
    return { entries: this.entries_.length, bytes, records };
  }

  setOnline(online: boolean): void {
    this.online_ = online;
    if (online) {
      for (const e of this.entries_) e.notBefore = 0;
      this.pump();
    }
    this.settle_();
  }

  /** Resolves once nothing more can be sent right now (all sent, or waiting on backoff/offline). */
  flush(): Promise<void> {
    return this.loaded.then(
      () =>
        new Promise<void>((resolve) => {
          this.waiters_.push(resolve);
          this.pump();
          this.settle_();
        }),
    );
  }

  stop(): void {
    clearTimeout(this.timer_);
    this.online_ = false;
    this.settle_();
  }

  /** Evicts lower- or equal-priority payloads, oldest first, until `bytes` fit. */
  private makeRoom_(bytes: number, priority: number): boolean {
    if (bytes > this.options_.maxBytes) return false;
    let total = this.size.bytes;
    while (total + bytes > this.options_.maxBytes) {
      let victim: Entry | undefined;
      for (const e of this.entries_) if (!e.sending && (!victim || e.priority < victim.priority)) victim = e;
      if (!victim || victim.priority > priority) return false;
      this.remove_(victim);
      this.count('queue_full', victim.records);
      total -= victim.bytes;
    }
    return true;
  }

  pump(): void {
    if (!this.ready_ || !this.online_) return;
    const now = Date.now();
    clearTimeout(this.timer_);
    this.timer_ = undefined;
    while (this.inFlight_ < this.options_.maxInFlight) {
      if (now < this.blockedUntil_) {
        this.wake_(this.blockedUntil_ - now);
        return;
      }
      let next: Entry | undefined;
      let wakeAt = Infinity;
      for (const e of this.entries_) {
        if (e.sending) continue;
        if (e.notBefore > now) wakeAt = Math.min(wakeAt, e.notBefore);
        else if (!next || e.priority > next.priority) next = e;
      }
      if (!next) {
        if (wakeAt < Infinity) this.wake_(wakeAt - now);
        break;
      }
      this.send_(next);
    }
    this.settle_();
  }

  private wake_(ms: number): void {
    clearTimeout(this.timer_);
    this.timer_ = setTimeout(() => this.pump(), ms);
    this.settle_();
  }

  private send_(entry: Entry): void {
    const { platform_: platform, options_: options } = this;
    entry.sending = true;
    this.inFlight_++;
    let finished = false;
    const finish = (status: number, headers?: Record<string, unknown>) => {
      if (finished) return;
      finished = true;
      this.inFlight_--;
      entry.sending = false;
      this.settleEntry_(entry, status, headers);
      this.pump();
    };
    try {
      platform.api[platform.requestApi]({
        url: `${options.endpoint}/v1/${entry.signal}`,
        method: 'POST',
        data: entry.body,
        dataType: 'text',
        timeout: options.timeoutMs,
        [platform.headerField]: {
          ...options.headers,
          'content-type': 'application/json',
          'x-mp-otel-batch': entry.id,
        },
        success: (res: any) =>
          finish(Number(res[platform.statusField]) || 0, res[platform.headerField] || res.header),
        fail: () => finish(0),
      });
    } catch {
      finish(0);
    }
  }

  private settleEntry_(entry: Entry, status: number, headers?: Record<string, unknown>): void {
    if (status >= 200 && status < 300) {
      this.remove_(entry);
      return;
    }
    if (status === 413) {
      const halves = splitPayload(entry.signal, entry.body);
      this.remove_(entry);
      if (halves) for (const half of halves) this.push(entry.signal, half.body, half.records, entry.priority);
      else this.count('too_large', entry.records);
      return;
    }
    const retryable = status === 0 || status === 429 || status === 502 || status === 503 || status === 504;
    if (!retryable) {
      this.remove_(entry);
      this.count('rejected', entry.records);
      return;
    }
    entry.tries++;
    const retryAfter = parseRetryAfter(headerValue(headers, 'retry-after'));
    if (retryAfter !== undefined) this.blockedUntil_ = Date.now() + retryAfter;
    else {
      const backoff = Math.min(1000 * 2 ** (entry.tries - 1), MAX_BACKOFF_MS);
      entry.notBefore = Date.now() + backoff * (0.5 + Math.random() / 2);
    }
    this.saveIndex_();
  }

  private remove_(entry: Entry): void {
    const i = this.entries_.indexOf(entry);
    if (i < 0) return;
    this.entries_.splice(i, 1);
    if (this.options_.storageKey)
      callAsync(this.platform_.api, 'removeStorage', { key: `${this.options_.storageKey}.${entry.id}` });
    this.saveIndex_();
  }

  private settle_(): void {
    if (this.inFlight_ > 0) return;
    const now = Date.now();
    const sendableNow =
      this.ready_ &&
      this.online_ &&
      now >= this.blockedUntil_ &&
      this.entries_.some((e) => e.notBefore <= now);
    if (sendableNow) return;
    const waiters = this.waiters_;
    this.waiters_ = [];
    for (const resolve of waiters) resolve();
  }

  private store_(key: string, data: unknown): void {
    if (this.options_.storageKey) callAsync(this.platform_.api, 'setStorage', { key, data });
  }

  /** Index writes are coalesced: one per turn of the event loop at most. */
  private saveIndex_(): void {
    if (!this.options_.storageKey || this.indexWrite_ || !this.ready_) return;
    this.indexWrite_ = setTimeout(() => {
      this.indexWrite_ = undefined;
      this.store_(this.options_.storageKey, {
        v: 1,
        dropped: this.dropped_,
        entries: this.entries_.map(({ id, signal, priority, bytes, records, tries }) => ({
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
  private async load_(): Promise<void> {
    const { api } = this.platform_;
    const key = this.options_.storageKey;
    const restored: Entry[] = [];
    if (key) {
      const index = ((await callAsync(api, 'getStorage', { key })) || {}).data || {};
      for (const meta of Array.isArray(index.entries) ? index.entries : []) {
        const body = ((await callAsync(api, 'getStorage', { key: `${key}.${meta.id}` })) || {}).data;
        if (typeof body === 'string') restored.push({ ...meta, body, notBefore: 0 });
      }
      for (const [reason, n] of Object.entries(index.dropped || {})) {
        this.dropped_[reason as DropReason] = (this.dropped_[reason as DropReason] || 0) + Number(n);
      }
    }
    // What an earlier run left is older than anything pushed while we were reading it.
    this.entries_ = [...restored, ...this.entries_];
    this.makeRoom_(0, PRIORITY_ERROR);
    this.ready_ = true;
    this.saveIndex_();
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
export function splitPayload(
  signal: Signal,
  body: string,
): Array<{ body: string; records: number }> | undefined {
  const [resourceKey, scopeKey, recordKey] = CONTAINERS[signal];
  const leaves: Array<[any, any, unknown]> = [];
  try {
    for (const r of JSON.parse(body)[resourceKey])
      for (const s of r[scopeKey]) for (const x of s[recordKey]) leaves.push([r, s, x]);
  } catch {
    return undefined;
  }
  if (leaves.length < 2) return undefined;
  const half = leaves.length >> 1;
  return [leaves.slice(0, half), leaves.slice(half)].map((part) => {
    const resources = new Map<any, Map<any, unknown[]>>();
    for (const [r, s, x] of part) {
      const scopes = resources.get(r) || resources.set(r, new Map()).get(r)!;
      (scopes.get(s) || scopes.set(s, []).get(s)!).push(x);
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
