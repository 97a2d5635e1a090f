// The ingest log's segments in memory and on disk: a segment is inserted from the chunks this process
// still holds (not read back), up to a memory bound; an inserted segment's file is written over by the next
// one, and neither rotate() nor a restart ever leaves the old bytes past the appends in a segment.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeChunks } from '../src/otlp/rowbinary.js';
import { Wal } from '../src/otlp/wal.js';
import { tempDir } from './temp-dir.js';

const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

describe('ingest log segments', () => {
  it('holds the appended chunks for the insert; past the bound it lets go and the file is read', () => {
    const dir = tempDir('mp-otel-wal-unit-');
    // each chunk is its own 64 KiB allocation: the bound counts allocations, three fit in 200 KiB
    const wal = new Wal(dir, 200 * 1024);
    const chunks = [1, 2, 3].map((i) => bytes(64 * 1024, i));
    for (const c of chunks) wal.append(c, 1, []);
    const held = wal.rotate();
    expect(held?.held).toHaveLength(3);
    expect(wal.heldBytes).toBe(3 * 64 * 1024);
    expect(wal.chunks(held!)).toEqual(chunks);
    // a fourth allocation does not fit: the next segment is not held, its chunks come from its file
    wal.append(bytes(64 * 1024, 4), 1, []);
    const unheld = wal.rotate();
    expect(unheld?.held).toBeUndefined();
    expect(Buffer.concat(wal.chunks(unheld!))).toEqual(bytes(64 * 1024, 4));
    wal.done(held!);
    expect(wal.heldBytes).toBe(0);
    wal.done(unheld!);
    wal.close();
  });

  it('writes the next segment over an inserted one and cuts it to its appends', () => {
    const dir = tempDir('mp-otel-wal-unit-');
    const wal = new Wal(dir);
    wal.append(bytes(100_000, 7), 10, []);
    const first = wal.rotate()!;
    wal.done(first);
    expect(existsSync(first.bin)).toBe(false);
    expect(existsSync(join(dir, 'spare.bin'))).toBe(true);
    // the spare (100 000 bytes of 7s) becomes the next segment's file: only the new 10 bytes remain
    wal.append(bytes(10, 1), 1, []);
    const second = wal.rotate()!;
    expect(second.bin).not.toBe(first.bin);
    expect(existsSync(join(dir, 'spare.bin'))).toBe(false);
    expect(readFileSync(second.bin)).toEqual(bytes(10, 1));
    wal.done(second);
    wal.close();
    expect(existsSync(join(dir, 'spare.bin'))).toBe(false); // close() removes it
  });

  it('a process killed while appending to a recycled file: the next start keeps only what was indexed', () => {
    const dir = tempDir('mp-otel-wal-unit-');
    const wal = new Wal(dir);
    wal.append(bytes(50_000, 7), 10, []);
    wal.done(wal.rotate()!);
    wal.append(bytes(20, 1), 2, [{ Key: 'k1' }]);
    // no rotate, no close: the "crash". The file still holds the spare's old bytes past the append.
    const after = new Wal(dir);
    const [left] = after.leftovers();
    expect(left?.rows).toBe(2);
    expect(left?.keys).toEqual([{ Key: 'k1' }]);
    expect(statSync(left!.bin).size).toBe(20);
    expect(readFileSync(left!.bin)).toEqual(bytes(20, 1));
    expect(left?.held).toBeUndefined(); // a leftover is read from its file
    expect(Buffer.concat(after.chunks(left!))).toEqual(bytes(20, 1));
  });
});

describe('scratch files', () => {
  it('writeChunks writes over a longer file and cuts it to what it wrote', async () => {
    const file = join(tempDir('mp-otel-scratch-unit-'), 'scratch.bin');
    writeFileSync(file, bytes(100_000, 9));
    const views = [bytes(3, 1), bytes(5, 2), bytes(0, 0), bytes(2, 3)];
    await writeChunks(file, views);
    expect(readFileSync(file)).toEqual(Buffer.concat(views));
    // many views (more than one writev's group of 1024)
    const many = Array.from({ length: 2500 }, (_, i) => bytes(3, i % 256));
    await writeChunks(file, many);
    expect(readFileSync(file)).toEqual(Buffer.concat(many));
  });
});
