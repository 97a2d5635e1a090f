// Batch-id dedup (x-mp-otel-batch): a retried payload is stored once.
// - Keyed by sha256(signal, ingest key id, batch id, sha256(decompressed body)): junk sent first under a
//   victim's id is a different key, so it cannot make the victim's payload a "duplicate".
// - Table <db>.mp_ingest_batches (Key FixedString(32), Seen DateTime, Rows UInt32; ReplacingMergeTree,
//   TTL 1 day), created by the receiver at start.
// - Only written payloads claim a key (a request that stores no row claims nothing), and the claim is
//   recorded in <db>.mp_ingest_batches after the payload's rows, in the same flush: a
//   restart loads the recent keys, so a retry after a crash is still recognised. A crash between the data
//   and the key row can at worst store a retried payload twice (never lose it).
// - In memory: the keys of the window (loaded at start + written since) and the in-flight claims; when the
//   set had to drop keys (more than maxEntries in the window), a miss is looked up in the table.
import { createHash } from 'node:crypto';
import type { ChdbStore } from '../chdb-store.js';
import type { Row } from './rows.js';

export const DEDUP_TABLE = 'mp_ingest_batches';

interface Entry {
  expires: number;
  pending?: Promise<void>;
}

export interface Claim {
  key: string;
  row: Row;
  resolve(): void;
  reject(err: Error): void;
}

export class BatchDedup {
  private readonly map = new Map<string, Entry>();
  /** keys older than this may have been dropped from memory: look misses up in the table */
  private incompleteUntil = 0;
  persistent = false;

  constructor(
    private readonly store: ChdbStore,
    private readonly database: string,
    readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  static key(signal: string, principal: string, batchId: string, body: Uint8Array): string {
    const bodyHash = createHash('sha256').update(body).digest();
    return createHash('sha256')
      .update(`${signal}\n${principal}\n${batchId}\n`)
      .update(bodyHash)
      .digest('hex')
      .slice(0, 32);
  }

  /**
   * Creates the table when missing (embedded-mode bookkeeping, like the ingest log: not part of the shared
   * schema in clickhouse/migrations, which a collector-fed server never needs), then loads the window's
   * keys; without the table, dedup stays in memory only.
   */
  async load(): Promise<void> {
    const secs = Math.ceil(this.windowMs / 1000);
    try {
      await this.store.query(
        `CREATE TABLE IF NOT EXISTS ${this.database}.${DEDUP_TABLE} (Key FixedString(32), Seen DateTime, Rows UInt32) ` +
          'ENGINE = ReplacingMergeTree(Seen) ORDER BY Key TTL Seen + toIntervalDay(1) SETTINGS index_granularity = 1024',
      );
      const r = await this.store.query(
        `SELECT Key, toUnixTimestamp(max(Seen)) FROM ${this.database}.${DEDUP_TABLE} ` +
          `WHERE Seen > now() - ${secs} GROUP BY Key`,
        'TabSeparated',
      );
      const now = Date.now();
      for (const line of Buffer.from(r.bytes).toString('utf8').split('\n')) {
        const [key, seen] = line.split('\t');
        if (key && seen) this.remember(key, Number(seen) * 1000 + this.windowMs, now);
      }
      this.persistent = true;
    } catch {
      this.persistent = false;
    }
  }

  private remember(key: string, expires: number, now: number): void {
    this.map.delete(key);
    this.map.set(key, { expires });
    if (this.map.size > this.maxEntries) {
      for (const [k, v] of this.map) {
        if (this.map.size <= this.maxEntries && v.expires > now) break;
        if (!v.pending) {
          this.map.delete(k);
          if (v.expires > now) this.incompleteUntil = Math.max(this.incompleteUntil, v.expires);
        }
      }
    }
  }

  /**
   * 'duplicate' when the key was written; otherwise a claim (later requests with the key wait for it).
   * Waits for an in-flight claim of the same key first.
   */
  async claim(key: string): Promise<'duplicate' | Claim> {
    for (;;) {
      const now = Date.now();
      const e = this.map.get(key);
      if (e && e.expires > now) {
        if (!e.pending) return 'duplicate';
        try {
          await e.pending;
          return 'duplicate';
        } catch {
          continue; // the earlier attempt failed and released the key
        }
      }
      if (!e && this.persistent && this.incompleteUntil > now && (await this.inTable(key))) {
        this.remember(key, now + this.windowMs, now);
        return 'duplicate';
      }
      if (this.map.get(key)?.pending) continue; // claimed while we looked
      return this.newClaim(key, now);
    }
  }

  private async inTable(key: string): Promise<boolean> {
    const secs = Math.ceil(this.windowMs / 1000);
    const r = await this.store.query(
      `SELECT count() FROM ${this.database}.${DEDUP_TABLE} WHERE Key = {k:FixedString(32)} AND Seen > now() - ${secs}`,
      'TabSeparated',
      undefined,
      { k: key },
    );
    return Number(Buffer.from(r.bytes).toString('utf8').trim()) > 0;
  }

  private newClaim(key: string, now: number): Claim {
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const pending = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    pending.catch(() => undefined);
    const entry: Entry = { expires: now + this.windowMs, pending };
    this.map.set(key, entry);
    return {
      key,
      row: { Key: key, Seen: Math.floor(now / 1000), Rows: 0 },
      resolve: () => {
        entry.pending = undefined;
        this.remember(key, Date.now() + this.windowMs, Date.now());
        resolve();
      },
      reject: (err: Error) => {
        if (this.map.get(key) === entry) this.map.delete(key);
        reject(err);
      },
    };
  }

  get size(): number {
    return this.map.size;
  }
}
