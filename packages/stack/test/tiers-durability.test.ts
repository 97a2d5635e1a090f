// Durability and scaling of the collector tiers, real processes on loopback (sampling at 100 % so that every
// span the front acknowledged is expected exactly once at the sink, counted per span id):
//   A. kill -9 a sampler mid-stream, restart it: what is lost is only what that sampler held in memory
//      waiting for its traces' decisions (counted and reported); nothing sent after the kill is lost;
//      duplicates (at-least-once re-sends) are counted and reported;
//   B. kill -9 every sampler once they have decided (the sink refusing, so the decided spans sit in their
//      on-disk sending queues), restart: nothing lost;
//   C. kill -9 the front with acknowledged spans in its on-disk queue (samplers down), restart: nothing lost;
//   D. scale 2 → 3 samplers while traffic flows, with the front's DNS resolver (a hosts file of the front's
//      own mount namespace is its DNS): nothing lost, the new sampler takes traces, split traces counted.
import { writeFileSync } from 'node:fs';
import { type OtlpCapture, startOtlpCapture } from '@mp-otel/devkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureCollector, freePort, removeTempFiles, tempFile } from '../src/collector.js';
import {
  type Front,
  makeFront,
  makeSampler,
  makeTraffic,
  type Proc,
  removeDirs,
  SAMPLER_ATTR,
  type Sampler,
  type SentSpan,
  send,
  spanIdsOf,
} from './tiers-helpers.js';

const ENV = { MP_OTEL_TAIL_DECISION_WAIT: '1s', MP_OTEL_TAIL_SAMPLING_PERCENT: '100' };
const running = new Set<Proc>();
const dirs: string[] = [];
let sink: OtlpCapture;

const track = (p: Proc) => {
  running.add(p);
  return p;
};
async function samplers(ids: string[], host = (_i: number) => '127.0.0.1', port?: number) {
  const out: Sampler[] = [];
  for (const [i, id] of ids.entries()) {
    const s = await makeSampler(id, sink.url, ENV, host(i), port);
    dirs.push(s.queueDir);
    out.push(s);
  }
  for (const s of out) track(await s.start());
  return out;
}

/** Nothing queued anywhere, nothing in flight to the sink, and the sink's count unchanged for a while. */
async function settle(procs: Proc[], polls = 10) {
  const deadline = Date.now() + 180_000;
  let last = -1;
  let stable = 0;
  for (;;) {
    let queued = 0;
    for (const p of procs) if (!p.exited()) queued += await p.metric('otelcol_exporter_queue_size');
    let pending = 0;
    for (const p of procs)
      if (!p.exited()) pending += await p.metric('otelcol_processor_tail_sampling_sampling_traces_on_memory');
    const n = sink.spanCount();
    stable = queued === 0 && sink.inFlight === 0 && n === last ? stable + 1 : 0;
    last = n;
    if (stable >= polls) return;
    if (Date.now() > deadline)
      throw new Error(`not settled: queued ${queued}, pending ${pending}, sink ${n}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Per acknowledged span: how often it reached the sink. */
function account(acked: SentSpan[]) {
  const seen = new Map<string, number>();
  const samplerOfTrace = new Map<string, Set<string>>();
  for (const s of sink.spans()) {
    seen.set(s.spanId, (seen.get(s.spanId) ?? 0) + 1);
    const set = samplerOfTrace.get(s.traceId) ?? new Set<string>();
    set.add(String(s.resource[SAMPLER_ATTR]));
    samplerOfTrace.set(s.traceId, set);
  }
  const expected = acked.filter((s) => !s.noise);
  const lost = expected.filter((s) => !seen.has(s.spanId));
  const duplicates = expected.reduce((n, s) => n + Math.max(0, (seen.get(s.spanId) ?? 0) - 1), 0);
  const unknown = [...seen.keys()].filter((id) => !expected.some((s) => s.spanId === id));
  return { expected, lost, duplicates, unknown, samplerOfTrace };
}

/** Sends requests in order, a few at a time; `at(i)` runs before request i (kills, restarts, rescaling). */
async function stream(
  front: Front,
  requests: { body: unknown; spans: SentSpan[] }[],
  at: (i: number) => Promise<void> = async () => {},
) {
  const acked: (SentSpan & { sentAt: number })[] = [];
  const refused: SentSpan[] = [];
  for (let i = 0; i < requests.length; i += 2) {
    await at(i);
    const batch = requests.slice(i, i + 2);
    const sentAt = Date.now();
    const ok = await Promise.all(batch.map((r) => send(front.url, r.body)));
    batch.forEach((r, k) => {
      if (ok[k]) acked.push(...r.spans.map((s) => ({ ...s, sentAt })));
      else refused.push(...r.spans);
    });
    // a traffic shape (spread over time), not a wait for a result
    await new Promise((r) => setTimeout(r, 15));
  }
  return { acked, refused };
}

beforeAll(async () => {
  ensureCollector();
  sink = await startOtlpCapture();
}, 600_000);
afterEach(async () => {
  await Promise.all([...running].map((p) => p.stop()));
  running.clear();
  sink.reply = undefined;
  sink.requests.length = 0;
});
afterAll(async () => {
  await sink?.close();
  removeTempFiles();
  removeDirs(dirs);
});

describe('kill -9 and restart', () => {
  it('A: a sampler killed mid-stream loses only what it held for pending decisions; nothing sent after the kill', async () => {
    const ss = await samplers(['s1', 's2', 's3']);
    const front = await makeFront(sink.url, ENV, { static: ss.map((s) => s.endpoint) });
    dirs.push(front.queueDir);
    track(await front.start());
    const victim = ss[1] as Sampler;
    const traffic = makeTraffic({ traces: 600, spansPerTrace: 4, tracesPerRequest: 5 });
    let killAt = 0;
    let restartedAt = 0;
    const { acked, refused } = await stream(front, traffic.requests, async (i) => {
      if (i === 60) {
        // mid-stream: the victim holds traces waiting for their decision
        killAt = Date.now();
        await (victim.proc as Proc).kill9();
        running.delete(victim.proc as Proc);
      }
      if (i === 140) {
        track(await victim.start());
        restartedAt = Date.now();
      }
    });
    expect(refused).toEqual([]);
    await settle([...running]);
    const r = account(acked);
    expect(r.unknown).toEqual([]);
    // nothing acknowledged after the kill is lost (the front held it on disk while the sampler was down)
    const sentAt = new Map(acked.map((a) => [a.spanId, a.sentAt]));
    const lostAfterKill = r.lost.filter((s) => (sentAt.get(s.spanId) ?? 0) >= killAt);
    console.log(
      `A: lost before the kill ${r.lost.length - lostAfterKill.length}, after ${lostAfterKill.length}`,
    );
    expect(lostAfterKill).toEqual([]);
    // what was lost was on the victim: any trace with a lost span that reached the sink at all came from it
    for (const s of r.lost) {
      const set = r.samplerOfTrace.get(s.traceId);
      if (set) expect([...set]).toEqual([victim.id]);
    }
    const lostTraces = new Set(r.lost.map((s) => s.traceId)).size;
    const ages = r.lost.map((s) => killAt - (sentAt.get(s.spanId) ?? 0));
    if (ages.length)
      console.log(
        `A: lost spans were acknowledged ${Math.min(...ages)}–${Math.max(...ages)} ms before the kill`,
      );
    console.log(
      `A: acked ${r.expected.length} spans; killed ${victim.id}; ` +
        `restarted after ${restartedAt - killAt} ms; lost ${r.lost.length} spans of ${lostTraces} traces; duplicates ${r.duplicates}`,
    );
  }, 300_000);

  it('B: samplers killed after deciding (spans in their on-disk queues) lose nothing', async () => {
    sink.reply = () => ({ status: 503 });
    const ss = await samplers(['s1', 's2', 's3']);
    const front = await makeFront(sink.url, ENV, { static: ss.map((s) => s.endpoint) });
    dirs.push(front.queueDir);
    track(await front.start());
    const traffic = makeTraffic({ traces: 300, spansPerTrace: 4, tracesPerRequest: 10 });
    const { acked, refused } = await stream(front, traffic.requests);
    expect(refused).toEqual([]);
    const expected = new Set(acked.filter((s) => !s.noise).map((s) => s.spanId));
    // every span has been decided and offered to the (refusing) sink: it sits in a sampler's disk queue
    await sink.waitFor(() => {
      const offered = new Set(sink.requests.flatMap((q) => spanIdsOf(q.body)));
      return [...expected].every((id) => offered.has(id));
    }, 120_000);
    for (const s of ss) {
      await (s.proc as Proc).kill9();
      running.delete(s.proc as Proc);
    }
    expect(sink.spans()).toEqual([]);
    sink.reply = undefined;
    for (const s of ss) track(await s.start());
    await settle([...running]);
    const r = account(acked);
    expect(r.lost).toEqual([]);
    expect(r.unknown).toEqual([]);
    console.log(
      `B: ${r.expected.length} decided spans survived kill -9 of all samplers; duplicates ${r.duplicates}`,
    );
  }, 300_000);

  it('C: the front killed with acknowledged spans in its on-disk queue loses nothing', async () => {
    const ss = await samplers(['s1', 's2']);
    const front = await makeFront(sink.url, ENV, { static: ss.map((s) => s.endpoint) });
    dirs.push(front.queueDir);
    track(await front.start());
    // the samplers go away (gracefully): the front keeps acknowledging into its disk queue, retrying
    for (const s of ss) {
      await (s.proc as Proc).stop();
      running.delete(s.proc as Proc);
    }
    const traffic = makeTraffic({ traces: 200, spansPerTrace: 4, tracesPerRequest: 10 });
    const { acked, refused } = await stream(front, traffic.requests);
    expect(refused).toEqual([]);
    expect(await (front.proc as Proc).metric('otelcol_exporter_queue_size')).toBeGreaterThan(0);
    await (front.proc as Proc).kill9();
    running.delete(front.proc as Proc);
    for (const s of ss) track(await s.start());
    track(await front.start());
    await settle([...running]);
    const r = account(acked);
    expect(r.lost).toEqual([]);
    expect(r.unknown).toEqual([]);
    console.log(
      `C: ${r.expected.length} spans acknowledged by the killed front all delivered; duplicates ${r.duplicates}`,
    );
  }, 300_000);
});

describe('scaling the sampling tier', () => {
  it('D: 2 → 3 samplers with the DNS resolver while traffic flows: nothing lost, the new one takes traces', async () => {
    const port = await freePort();
    const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const name = 'samplers.mp-otel.test';
    const hostsFile = tempFile('hosts', '');
    const writeHosts = (n: number) =>
      writeFileSync(
        hostsFile,
        `127.0.0.1 localhost\n${hosts
          .slice(0, n)
          .map((h) => `${h} ${name}`)
          .join('\n')}\n`,
      );
    writeHosts(2);
    await samplers(['s1', 's2'], (i) => hosts[i] as string, port);
    const front = await makeFront(sink.url, ENV, { dns: { hostname: name, port, hostsFile } });
    dirs.push(front.queueDir);
    track(await front.start());
    const third = await makeSampler('s3', sink.url, ENV, hosts[2], port);
    dirs.push(third.queueDir);
    const traffic = makeTraffic({ traces: 1200, spansPerTrace: 4, tracesPerRequest: 5 });
    let scaledAt = 0;
    const { acked, refused } = await stream(front, traffic.requests, async (i) => {
      if (i === 40) {
        track(await third.start());
        scaledAt = Date.now();
        writeHosts(3); // in place: the front's bind mount sees it
      }
    });
    expect(refused).toEqual([]);
    // traffic goes on until the front's resolver has picked up the new sampler (a condition, not a time:
    // Go re-reads a changed hosts file within ~5 s, the resolver polls every 500 ms)
    const deadline = Date.now() + 60_000;
    while (!sink.spans().some((x) => x.resource[SAMPLER_ATTR] === 's3')) {
      expect(Date.now()).toBeLessThan(deadline);
      const more = await stream(
        front,
        makeTraffic({ traces: 50, spansPerTrace: 4, tracesPerRequest: 5 }).requests,
      );
      expect(more.refused).toEqual([]);
      acked.push(...more.acked);
      await settle([...running], 4);
    }
    await settle([...running]);
    const r = account(acked);
    expect(r.lost).toEqual([]);
    expect(r.unknown).toEqual([]);
    const perSampler = new Map<string, number>();
    for (const [, set] of r.samplerOfTrace)
      for (const id of set) perSampler.set(id, (perSampler.get(id) ?? 0) + 1);
    expect(perSampler.get('s3') ?? 0).toBeGreaterThan(0);
    const split = [...r.samplerOfTrace].filter(([, set]) => set.size > 1).map(([t]) => t);
    const sentAt = new Map(acked.map((s) => [s.traceId, s.sentAt]));
    const firstOnThird = Math.min(
      ...[...r.samplerOfTrace].filter(([, set]) => set.has('s3')).map(([t]) => sentAt.get(t) ?? Infinity),
    );
    // a trace can only be split if its pieces were sent around the switch of the backend list
    for (const t of split) {
      expect(sentAt.get(t) ?? 0).toBeGreaterThanOrEqual(scaledAt - 2_000);
      expect(sentAt.get(t) ?? 0).toBeLessThanOrEqual(firstOnThird + 2_000);
    }
    console.log(
      `D: traces per sampler ${JSON.stringify(Object.fromEntries(perSampler))}; ${split.length} of ${traffic.traces.length} traces split across two samplers (in flight at the switch); duplicates ${r.duplicates}; first trace on s3 ${firstOnThird - scaledAt} ms after the hosts change`,
    );
  }, 300_000);

  it('E: 2 → 3 samplers with the static resolver and a configuration reload (SIGHUP): nothing acknowledged lost', async () => {
    const ss = await samplers(['s1', 's2']);
    const front = await makeFront(sink.url, ENV, { static: ss.map((s) => s.endpoint) });
    dirs.push(front.queueDir);
    track(await front.start());
    const third = await makeSampler('s3', sink.url, ENV);
    dirs.push(third.queueDir);
    const traffic = makeTraffic({ traces: 1200, spansPerTrace: 4, tracesPerRequest: 5 });
    const { acked, refused } = await stream(front, traffic.requests, async (i) => {
      if (i === 40) {
        track(await third.start());
        front.setStatic([...ss, third].map((s) => s.endpoint));
        (front.proc as Proc).hup();
      }
    });
    await settle([...running]);
    const r = account(acked);
    expect(r.lost).toEqual([]);
    expect(r.unknown).toEqual([]);
    const perSampler = new Map<string, number>();
    for (const [, set] of r.samplerOfTrace)
      for (const id of set) perSampler.set(id, (perSampler.get(id) ?? 0) + 1);
    expect(perSampler.get('s3') ?? 0).toBeGreaterThan(0);
    const split = [...r.samplerOfTrace].filter(([, set]) => set.size > 1).length;
    console.log(
      `E: traces per sampler ${JSON.stringify(Object.fromEntries(perSampler))}; ${split} traces split; ${refused.length} spans refused during the reload (not acknowledged: the client retries them); duplicates ${r.duplicates}`,
    );
  }, 300_000);
});
