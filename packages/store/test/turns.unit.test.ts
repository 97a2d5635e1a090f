// Decoding one request per event-loop turn: a socket's data that arrives while many requests wait to be
// decoded is read after at most a couple of them, not after all (what lets the ClickHouse endpoint answer a
// dashboard query during full-speed ingest). An ordering, not a timing: it holds on a busy machine.
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Turns } from '../src/otlp/turns.js';

describe('Turns', () => {
  it('lets I/O in between two releases', async () => {
    const events: string[] = [];
    const server = createServer((s) => s.on('data', () => events.push('io')));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    await new Promise((r) => setTimeout(r, 20)); // the server side accepted the connection
    const turns = new Turns();
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await turns.next();
        events.push(`decode ${i}`);
        if (i === 0) client.write('x'); // readable at the server's next poll
      }),
    );
    while (!events.includes('io')) await new Promise((r) => setTimeout(r, 5));
    // back to back, the data would be read after all 50
    expect(events.indexOf('io')).toBeGreaterThan(0);
    expect(events.indexOf('io')).toBeLessThan(5);
    expect(events.filter((e) => e !== 'io')).toEqual(Array.from({ length: 50 }, (_, i) => `decode ${i}`));
    client.destroy();
    await new Promise((r) => server.close(r));
  });

  it('releases each waiter once, in order, and keeps working after it ran dry', async () => {
    const turns = new Turns();
    const order: number[] = [];
    await Promise.all([0, 1, 2].map(async (i) => turns.next().then(() => order.push(i))));
    await turns.next();
    order.push(3);
    expect(order).toEqual([0, 1, 2, 3]);
  });
});
