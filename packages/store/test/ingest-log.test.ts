// The trace ingest log (ack "logged", what `mp-otel up` uses): a request is answered once its rows are in
// the log, before they are inserted; a crash loses nothing acknowledged — the next start inserts what the
// log holds (a half-written append, never acknowledged, is dropped), batch ids included.
import { appendFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '../src/index.js';
import { embedded, post, protobufTraces, spanCount } from './helpers.js';

let emb: Awaited<ReturnType<typeof embedded>>;
beforeAll(async () => {
  emb = await embedded();
});
afterAll(async () => {
  await emb?.dispose();
});

const PB = { 'content-type': 'application/x-protobuf' };

const count = (service: string) => spanCount(emb.client, service);

describe('trace ingest log', () => {
  it('answers once logged; after a crash the next start inserts everything acknowledged, once', async () => {
    const walDir = mkdtempSync(join(tmpdir(), 'mp-otel-wal-test-'));
    // a long linger: nothing is inserted before the "crash"
    const first = await startReceiver({
      store: emb.store,
      port: 0,
      walDir,
      ack: 'logged',
      lingerMs: 600_000,
    });
    const payloads = [
      protobufTraces('wal-crash', 100),
      protobufTraces('wal-crash', 100),
      protobufTraces('wal-crash', 100),
    ];
    for (const [i, p] of payloads.entries()) {
      const r = await post(`${first.url}/v1/traces`, p, { ...PB, 'x-mp-otel-batch': `wal-${i}` });
      expect(r.status).toBe(200);
    }
    expect(first.receiver.writer.queuedRows).toBe(300);
    expect(await count('wal-crash')).toBe(0);
    // crash: the server goes away without flushing; an append was cut in the middle (never answered)
    first.server.closeAllConnections();
    first.server.close();
    first.receiver.close();
    const seg = readdirSync(walDir).find((f) => f.endsWith('.bin')) as string;
    appendFileSync(join(walDir, seg), Buffer.from([0x01, 0x02, 0x03]));

    const second = await startReceiver({ store: emb.store, port: 0, walDir, ack: 'logged' });
    try {
      expect(await count('wal-crash')).toBe(300);
      expect(readdirSync(walDir).filter((f) => f.startsWith('seg-'))).toEqual([]);
      // the batch ids came back with the rows: a retry is a duplicate
      const retry = await post(`${second.url}/v1/traces`, payloads[1] as Uint8Array, {
        ...PB,
        'x-mp-otel-batch': 'wal-1',
      });
      expect(retry.status).toBe(200);
      expect(retry.headers.get('x-mp-otel-duplicate')).toBe('1');
      await second.receiver.writer.flush();
      expect(await count('wal-crash')).toBe(300);
    } finally {
      await second.close();
    }
  });

  it('batches grow with the load: requests that arrive during an INSERT share the next one', async () => {
    const rcv = await startReceiver({ store: emb.store, port: 0, ack: 'logged' });
    try {
      const results = await Promise.all(
        Array.from({ length: 40 }, () => post(`${rcv.url}/v1/traces`, protobufTraces('wal-batch', 200), PB)),
      );
      expect(results.every((r) => r.status === 200)).toBe(true);
      await rcv.receiver.writer.flush();
      expect(await count('wal-batch')).toBe(8000);
      // 40 requests, far fewer INSERTs
      expect(rcv.receiver.writer.batches).toBeLessThan(40);
    } finally {
      await rcv.close();
    }
  });

  it('full segments waiting are sorted and written while the one before inserts; each is inserted once', async () => {
    // segments of 10 × 20 rows; a long linger: the segments fill up before the first INSERT starts
    const rcv = await startReceiver({
      store: emb.store,
      port: 0,
      ack: 'logged',
      maxBatchRows: 20,
      lingerMs: 600_000,
    });
    try {
      for (let i = 0; i < 12; i++) {
        const r = await post(`${rcv.url}/v1/traces`, protobufTraces(`wal-staged-${i % 3}`, 100), PB);
        expect(r.status).toBe(200);
      }
      await rcv.receiver.writer.flush();
      for (let k = 0; k < 3; k++) expect(await count(`wal-staged-${k}`)).toBe(400);
      expect(rcv.receiver.writer.batches).toBe(6);
      expect(rcv.receiver.writer.stagedAhead).toBe(5);
      expect(rcv.receiver.writer.queuedRows).toBe(0);
    } finally {
      await rcv.close();
    }
  });

  it('rows the store refuses are kept aside (not retried forever, not lost silently); the receiver goes on', async () => {
    const walDir = mkdtempSync(join(tmpdir(), 'mp-otel-wal-test-'));
    const lines: string[] = [];
    // a database that does not exist: every INSERT is refused
    const rcv = await startReceiver({
      store: emb.store,
      port: 0,
      walDir,
      database: 'no_such_database',
      log: (l) => lines.push(l),
    });
    try {
      const r = await post(`${rcv.url}/v1/traces`, protobufTraces('wal-refused', 10), PB);
      expect(r.status).toBe(500); // a failure of the store, not of the input
      expect(readdirSync(join(walDir, 'failed'))).toHaveLength(1);
      expect(lines.join('\n')).toMatch(/the store refused logged trace rows/);
      expect(readdirSync(walDir).filter((f) => f.startsWith('seg-'))).toEqual([]);
      expect((await post(`${rcv.url}/v1/traces`, protobufTraces('wal-refused', 10), PB)).status).toBe(500);
    } finally {
      await rcv.close();
    }
  });
});
