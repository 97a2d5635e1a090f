// The trace ingest log (ack "logged", what `mp-otel up` uses): a request is answered once its rows are in
// the log, before they are inserted; a crash loses nothing acknowledged — the next start inserts what the
// log holds (a half-written append, never acknowledged, is dropped), batch ids included.
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '../src/index.js';
import { convertTraces } from '../src/otlp/convert.js';
import { BatchWriter } from '../src/otlp/receiver.js';
import { rowContext } from '../src/otlp/rows.js';
import { type Segment, Wal } from '../src/otlp/wal.js';
import { embedded, post, protobufTraces, spanCount } from './helpers.js';
import { tempDir } from './temp-dir.js';

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
      rmSync(walDir, { recursive: true, force: true });
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
      rmSync(walDir, { recursive: true, force: true });
    }
  });
});

describe('segments fill between INSERTs run back to back (ack "logged")', () => {
  /** A request's otel_traces rows, as the receiver queues them. */
  const rowsOf = (service: string, n: number) => {
    const { out, rows, marks } = convertTraces(Buffer.from(protobufTraces(service, n)), false, rowContext(), {
      maxDepth: 64,
      maxNodes: 1_000_000,
      maxItems: 10_000,
    });
    return { otel_traces: { rowbinary: Buffer.from(out.take()), rows, marks: marks.take() } };
  };

  it('the next INSERT waits for its segment to fill (or a flush); the first after a pause starts at once', async () => {
    const dir = tempDir('mp-otel-fill-test-');
    // B arrives the moment A's segment is taken for its INSERT, i.e. while A inserts
    let onRotate: (() => void) | undefined;
    const wal = new (class extends Wal {
      override rotate() {
        const seg = super.rotate();
        const hook = onRotate;
        onRotate = undefined;
        hook?.();
        return seg;
      }
    })(dir);
    const w = new BatchWriter(
      emb.store,
      'otel',
      20_000,
      0,
      32 * 1024 * 1024,
      wal,
      'logged',
      () => {},
      600_000,
    );
    const acks: Promise<void>[] = [];
    onRotate = () => acks.push(w.enqueue(rowsOf('fill-b', 30)));
    acks.push(w.enqueue(rowsOf('fill-a', 20)));
    await waitFor(() => w.batches === 1, 20_000, "A's INSERT");
    // A's INSERT is done and B waits in the current segment (without the wait it would be inserting by now)
    expect(wal.current.rows).toBe(30);
    acks.push(w.enqueue(rowsOf('fill-c', 40)));
    expect(wal.current.rows).toBe(70); // C joined B's segment
    await w.flush(); // a flush does not wait for the segment to fill
    await Promise.all(acks);
    expect(w.batches).toBe(2);
    expect([await count('fill-a'), await count('fill-b'), await count('fill-c')]).toEqual([20, 30, 40]);
    // after a pause, a lone request is inserted at once, not after the 600 s fill
    acks.push(w.enqueue(rowsOf('fill-d', 10)));
    await waitFor(() => w.batches === 3, 20_000, 'the INSERT after a pause');
    expect(await count('fill-d')).toBe(10);
    wal.close();
  });

  it('a segment filled while an INSERT runs is sorted and written during that INSERT, not after it', async () => {
    const dir = tempDir('mp-otel-stage-test-');
    const events: string[] = [];
    const wal = new (class extends Wal {
      override chunks(seg: Segment) {
        events.push(`stage ${seg.rows}`); // stage() reads a segment's chunks to sort them
        return super.chunks(seg);
      }
    })(dir);
    // B arrives once A's INSERT has been issued (after the drainer looked for a segment to stage), and fills
    // a segment of its own: maxBatchRows 2 → segments of 20 rows
    let arrive: (() => void) | undefined;
    const store = Object.create(emb.store) as typeof emb.store;
    store.query = async (sql, ...rest) => {
      const insert = /^INSERT INTO otel\.otel_traces /.test(sql);
      if (insert) events.push('insert starts');
      const hook = arrive;
      arrive = undefined;
      if (hook) await Promise.resolve().then(hook);
      try {
        return await emb.store.query(sql, ...rest);
      } finally {
        if (insert) events.push('insert ends');
      }
    };
    const w = new BatchWriter(store, 'otel', 2, 0, 32 * 1024 * 1024, wal, 'logged', () => {}, 600_000);
    const acks: Promise<void>[] = [];
    arrive = () => acks.push(w.enqueue(rowsOf('stage-b', 20)));
    acks.push(w.enqueue(rowsOf('stage-a', 20)));
    await waitFor(() => w.batches === 2, 20_000, 'both INSERTs');
    await Promise.all(acks);
    expect(w.stagedAhead).toBe(1);
    expect(events).toEqual([
      'stage 20',
      'insert starts',
      'stage 20',
      'insert ends',
      'insert starts',
      'insert ends',
    ]);
    expect([await count('stage-a'), await count('stage-b')]).toEqual([20, 20]);
    wal.close();
  });
});
