// The durable offline queue: serialized OTLP/JSON payloads kept in wx storage until the collector takes
// them. Bounded in bytes; errors outlive routine spans; oldest go first; every loss is counted.
// Each payload carries a stable `x-mp-otel-batch` id, identical on every retry and after an app restart,
// so a receiver can drop a repeat of a payload it already took (a retry whose first try had in fact
// succeeded, or an app killed before it could forget a sent payload).
// The host app's storage comes first: the queue persists only while the app keeps enough room, and when
// the app's own write fails for quota it gives its keys up (storage.ts) so that the write succeeds.
import { type Signal, splitPayload } from './otlp.js';
import { callAsync, type Platform } from './platform.js';
import { randomHex, utf8Length } from './text.js';

export const PRIORITY_ROUTINE = 0;
export const PRIORITY_ERROR = 1;

/** Why records were dropped; reported by the SDK itself as `mp.telemetry.dropped`. */
export type DropReason =
  | 'queue_full'
  | 'rate_limited'
  | 'too_large'
  | 'rejected'
  | 'server_error'
  | 'unauthorized'
  | 'sampled_out';

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
  /** in wx storage (false: memory only, the app needed the room) */
  stored?: boolean;
}

/** What a payload key holds: self-describing, so a key the index never learnt of can be re-queued. */
interface StoredPayload {
  s: Signal;
  p: number;
  r: number;
  b: string;
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
  /** Tries for a payload the server fails (5xx, 408, 429) before it is dropped and counted. */
  maxRetries: number;
  /** Free storage the app always keeps: the queue persists nothing that would leave less. */
  reserveBytes: number;
}

const MAX_BACKOFF_MS = 60_000;
/** A payload in flight this long without an answer is written to storage. */
const PERSIST_AFTER_MS = 1_000;
/** WeChat stores a string as JSON: quotes and backslashes are escaped; count the worst of it. */
const storedSize = (key: string, bytes: number) => key.length + Math.ceil(bytes * 1.2) + 16;

export class OfflineQueue {
  private entries_: Entry[] = [];
  private dropped_: Partial<Record<DropReason, number>> = {};
  private inFlight_ = 0;
  private blockedUntil_ = 0;
  private online_ = true;
  private ready_ = false;
  private unauthorized_ = false;
  private timer_: any;
  private indexWrite_: any;
  private waiters_: Array<() => void> = [];
  private seq_ = 0;
  /** Bytes of wx storage this queue may use (refreshed from getStorageInfo) and uses now. */
  private storageBudget_ = 0;
  private storedBytes_ = 0;
  private readonly idPrefix_ = randomHex(12);
  readonly loaded: Promise<void>;

  constructor(
    private readonly platform_: Platform,
    private readonly options_: QueueOptions,
    /** Called once if the endpoint refuses the ingest key (401). */
    private readonly onUnauthorized_: () => void = () => {},
  ) {
    this.loaded = this.load_();
  }

  /** Adds a serialized payload; never throws. */
  push(signal: Signal, body: string, records: number, priority: number, bytes = utf8Length(body)): void {
    if (this.unauthorized_) {
      this.count('unauthorized', records);
      return;
    }
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
    // A routine payload that goes out at once is written to storage only if it is not acknowledged
    // soon (send_): online, most never need the write. Errors are written at once.
    if (priority !== PRIORITY_ROUTINE || !this.sendsNow_()) this.persist_(entry);
    this.saveIndex_();
    this.pump();
  }

  private sendsNow_(): boolean {
    return (
      this.ready_ &&
      this.online_ &&
      !this.unauthorized_ &&
      Date.now() >= this.blockedUntil_ &&
      this.inFlight_ < this.options_.maxInFlight
    );
  }

  /** Writes every payload still waiting to storage (the app is going to the background). */
  persistAll(): void {
    for (const e of this.entries_) if (!e.stored) this.persist_(e);
    this.saveIndex_();
  }

  count(reason: DropReason, records = 1): void {
    this.dropped_[reason] = (this.dropped_[reason] || 0) + records;
    this.saveIndex_();
  }

  /** The drop counters since the last call, reset; undefined when nothing was dropped. */
  takeDropped(): Partial<Record<DropReason, number>> | undefined {
    const dropped = this.dropped_;
    if (this.unauthorized_ || Object.keys(dropped).length === 0) return undefined;
    this.dropped_ = {};
    this.saveIndex_();
    return dropped;
  }

  get dropped(): Partial<Record<DropReason, number>> {
    return { ...this.dropped_ };
  }

  get size(): { entries: number; bytes: number; records: number; storedBytes: number } {
    let bytes = 0;
    let records = 0;
    for (const e of this.entries_) {
      bytes += e.bytes;
      records += e.records;
    }
    return { entries: this.entries_.length, bytes, records, storedBytes: this.storedBytes_ };
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

  /**
   * The app's own write failed for quota: take every payload out of storage (they stay in memory and are
   * still sent), so that the app's write can be retried with the room they used. True if room was freed.
   */
  yieldStorage(): boolean {
    let freed = false;
    for (const e of this.entries_) {
      if (!e.stored) continue;
      this.unstore_(e);
      freed = true;
    }
    this.storageBudget_ = 0;
    this.refreshBudget();
    return freed;
  }

  /** Re-reads how much room the app leaves (at start, and when the app goes to the background). */
  refreshBudget(): void {
    const key = this.options_.storageKey;
    if (!key) return;
    callAsync(this.platform_.api, 'getStorageInfo', {}).then((info) => {
      if (!info || typeof info.limitSize !== 'number') {
        this.storageBudget_ = this.options_.maxBytes; // no quota information: trust the per-key bound
        return;
      }
      const free = (info.limitSize - Number(info.currentSize || 0)) * 1024;
      this.storageBudget_ = Math.max(
        0,
        Math.min(this.options_.maxBytes * 1.5, this.storedBytes_ + free - this.options_.reserveBytes),
      );
      // when the app has grown into our share, give back what exceeds the budget, oldest first
      for (const e of this.entries_) {
        if (this.storedBytes_ <= this.storageBudget_) break;
        if (e.stored) this.unstore_(e);
      }
    });
  }

  private key_(entry: Entry): string {
    return `${this.options_.storageKey}.${entry.id}`;
  }

  private persist_(entry: Entry): void {
    if (!this.options_.storageKey) return;
    const key = this.key_(entry);
    const size = storedSize(key, entry.bytes);
    if (this.ready_ && this.storedBytes_ + size > this.storageBudget_) return; // memory only
    entry.stored = true;
    this.storedBytes_ += size;
    const data: StoredPayload = { s: entry.signal, p: entry.priority, r: entry.records, b: entry.body };
    callAsync(this.platform_.api, 'setStorage', { key, data }).then((ok) => {
      if (ok || !entry.stored) return;
      entry.stored = false; // quota: this one lives in memory only
      this.storedBytes_ -= size;
    });
  }

  private unstore_(entry: Entry): void {
    entry.stored = false;
    this.storedBytes_ -= storedSize(this.key_(entry), entry.bytes);
    try {
      this.platform_.api.removeStorageSync(this.key_(entry));
    } catch {
      callAsync(this.platform_.api, 'removeStorage', { key: this.key_(entry) });
    }
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
    if (!this.ready_ || !this.online_ || this.unauthorized_) {
      this.settle_();
      return;
    }
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
    const slow = setTimeout(() => {
      if (!finished && !entry.stored && this.entries_.indexOf(entry) >= 0) this.persist_(entry);
    }, PERSIST_AFTER_MS);
    const finish = (status: number, headers?: Record<string, unknown>) => {
      if (finished) return;
      finished = true;
      clearTimeout(slow);
      this.inFlight_--;
      entry.sending = false;
      this.settleEntry_(entry, status, headers);
      if (!entry.stored && this.entries_.indexOf(entry) >= 0) this.persist_(entry); // it waits: keep it
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
    if (status === 401) {
      this.refused_();
      return;
    }
    if (status === 413) {
      const halves = splitPayload(entry.signal, entry.body);
      this.remove_(entry);
      if (halves) for (const half of halves) this.push(entry.signal, half.body, half.records, entry.priority);
      else this.count('too_large', entry.records);
      return;
    }
    const serverSide = status === 408 || status === 429 || status >= 500;
    if (status !== 0 && !serverSide) {
      this.remove_(entry);
      this.count('rejected', entry.records);
      return;
    }
    entry.tries++;
    if (status !== 0 && entry.tries >= this.options_.maxRetries) {
      this.remove_(entry);
      this.count('server_error', entry.records);
      return;
    }
    const retryAfter = parseRetryAfter(headerValue(headers, 'retry-after'));
    if (retryAfter !== undefined) this.blockedUntil_ = Date.now() + retryAfter;
    else entry.notBefore = Date.now() + backoffMs(entry.tries);
    this.saveIndex_();
  }

  /** The ingest key was refused: send nothing more this launch, keep nothing, say so once. */
  private refused_(): void {
    if (this.unauthorized_) return;
    this.unauthorized_ = true;
    for (const e of this.entries_.slice()) {
      this.remove_(e);
      this.count('unauthorized', e.records);
    }
    this.settle_();
    try {
      this.onUnauthorized_();
    } catch {}
  }

  private remove_(entry: Entry): void {
    const i = this.entries_.indexOf(entry);
    if (i < 0) return;
    this.entries_.splice(i, 1);
    if (entry.stored) {
      entry.stored = false;
      this.storedBytes_ -= storedSize(this.key_(entry), entry.bytes);
      callAsync(this.platform_.api, 'removeStorage', { key: this.key_(entry) });
    }
    this.saveIndex_();
  }

  private settle_(): void {
    if (this.inFlight_ > 0) return;
    const now = Date.now();
    const sendableNow =
      this.ready_ &&
      this.online_ &&
      !this.unauthorized_ &&
      now >= this.blockedUntil_ &&
      this.entries_.some((e) => e.notBefore <= now);
    if (sendableNow) return;
    const waiters = this.waiters_;
    this.waiters_ = [];
    for (const resolve of waiters) resolve();
  }

  /** Index writes are coalesced: one per turn of the event loop at most. */
  private saveIndex_(): void {
    const key = this.options_.storageKey;
    if (!key || this.indexWrite_ || !this.ready_) return;
    this.indexWrite_ = setTimeout(() => {
      this.indexWrite_ = undefined;
      callAsync(this.platform_.api, 'setStorage', {
        key,
        data: {
          v: 2,
          dropped: this.dropped_,
          entries: this.entries_.filter((e) => e.stored).map(({ id, tries }) => ({ id, tries })),
        },
      });
    }, 0);
  }

  /**
   * Restores what earlier runs of the app left, asynchronously so that start-up is never blocked:
   * the indexed payloads, and payload keys the index never learnt of (the app was killed between writing
   * a payload and its index), which are re-queued; keys that hold nothing usable are removed.
   */
  private async load_(): Promise<void> {
    const { api } = this.platform_;
    const key = this.options_.storageKey;
    const restored: Entry[] = [];
    if (key) {
      const index = ((await callAsync(api, 'getStorage', { key })) || {}).data || {};
      const tries: Record<string, number> = {};
      for (const meta of Array.isArray(index.entries) ? index.entries : [])
        tries[meta.id] = Number(meta.tries) || 0;
      for (const [reason, n] of Object.entries(index.dropped || {})) {
        this.dropped_[reason as DropReason] = (this.dropped_[reason as DropReason] || 0) + Number(n);
      }
      const info = (await callAsync(api, 'getStorageInfo', {})) || {};
      const keys: string[] = Array.isArray(info.keys)
        ? info.keys
        : Object.keys(tries).map((id) => `${key}.${id}`);
      const live = new Set(this.entries_.map((e) => e.id));
      for (const k of keys) {
        if (k.indexOf(`${key}.`) !== 0) continue;
        const id = k.slice(key.length + 1);
        if (live.has(id)) continue; // pushed by this run while we were reading
        const data: StoredPayload | undefined = ((await callAsync(api, 'getStorage', { key: k })) || {}).data;
        if (!data || typeof data.b !== 'string' || (data.s !== 'traces' && data.s !== 'logs')) {
          callAsync(api, 'removeStorage', { key: k });
          continue;
        }
        const bytes = utf8Length(data.b);
        this.storedBytes_ += storedSize(k, bytes);
        restored.push({
          id,
          signal: data.s,
          priority: Number(data.p) || 0,
          body: data.b,
          bytes,
          records: Number(data.r) || 1,
          tries: tries[id] || 0,
          notBefore: 0,
          stored: true,
        });
      }
    }
    // What an earlier run left is older than anything pushed while we were reading it.
    this.entries_ = [...restored, ...this.entries_];
    this.makeRoom_(0, PRIORITY_ERROR);
    this.ready_ = true;
    this.storageBudget_ = this.options_.maxBytes;
    this.refreshBudget();
    this.saveIndex_();
    this.pump();
  }
}

function headerValue(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  for (const key in headers) if (key.toLowerCase() === name) return String(headers[key]);
  return undefined;
}

/** Exponential backoff with jitter: 0.5–1 s, 1–2 s, 2–4 s, … capped at 60 s. */
export function backoffMs(tries: number): number {
  const base = Math.min(1000 * 2 ** (tries - 1), MAX_BACKOFF_MS);
  return base * (0.5 + Math.random() / 2);
}

/** Retry-After as delta-seconds or an HTTP date → milliseconds (0..1 h); undefined if unusable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  // delta-seconds, or an HTTP date (which always names a day or month)
  const ms = /^\d+(\.\d+)?$/.test(text)
    ? Number(text) * 1000
    : /[a-z]/i.test(text)
      ? Date.parse(text) - now
      : Number.NaN;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 3_600_000) : undefined;
}
