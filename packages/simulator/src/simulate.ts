// `mp-otel simulate`: a fleet of mini-program clients — each the real SDK in its own bare realm on the wx
// shim, with its own fingerprint, storage and public IP — using the real example image service (several
// nodes with the Node preset, behind a round-robin balancer), with faults injected where they would
// happen: in the client's base library (corrupted uploads), in the network between phone and servers
// (timeouts, resets), in a backend node (slow responses); plus scanner and crawler noise. Telemetry goes
// to an OTLP endpoint (the embedded `mp-otel up`, or a collector) on the simulated clock. The real HTTP
// flows end to end, but every duration telemetry reports is the latency model's (latency.ts): each
// client's SDK reads the simulated clock, pinned to the modelled start and end of each request, and the
// backend's spans are placed in the window the model gave the request (timewarp.ts), so the verdict does
// not depend on how busy the machine is.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createWx, loadMiniProgramSdk, WxStorage, waitFor } from '@mp-otel/devkit';
import { latencyModel } from './latency.js';
import { withMachineLock } from './lock.js';
import { drawProfile, geoRanges, wxFingerprint } from './profile.js';
import {
  type Dimension,
  type Fault,
  matchesWhere,
  pick,
  type Route,
  rng,
  type Scenario,
} from './scenario.js';
import { Crowd, type CrowdStats, type ScaleSpec } from './synthetic.js';
import { type Clock, realAt, simNow, startTimeWarp, TraceModels } from './timewarp.js';

const require = createRequire(import.meta.url);

export interface SimulateOptions {
  /** OTLP/HTTP base URL that receives everything (e.g. the embedded receiver). */
  otlpUrl: string;
  /** Catalog routes for the SDK's route names. */
  routes?: Array<{ name: string; method?: string; url: RegExp }>;
  /** IP ranges by carrier and province, to give each client a public address; none → no client IPs. */
  ipRanges?: Array<{ ip_start: number; ip_end: number; province: string; carrier: string }>;
  /** Called once per simulated minute, with the minute's start (simulated epoch ms). */
  onMinute?: (minuteStartMs: number, minute: number) => void | Promise<void>;
  log?: (line: string) => void;
}

export interface FaultWindow {
  name: string;
  effect: Fault['effect'];
  fromMs: number;
  toMs: number;
  where: Fault['where'];
  routes?: Route[];
}

export interface SimulationResult {
  scenario: string;
  clock: Clock;
  simStartMs: number;
  simEndMs: number;
  faults: FaultWindow[];
  /** actions by route and outcome ("201", "400", "timeout", …) */
  outcomes: Record<string, Record<string, number>>;
  noiseRequests: number;
  realSeconds: number;
  /** a seed-scale replay's generated users: what was sent, and how long the receiver took to catch up */
  crowd?: CrowdStats & { drainSeconds: number; clockWaitedSeconds: number };
  /** real seconds the simulated clock stood still (late ticks, requests in flight, the crowd's backlog) */
  clockWaitedSeconds: number;
}

/** The scenario's scale, with its defaults; undefined when it has none (only real SDK clients). */
export function scaleOf(s: Scenario): ScaleSpec | undefined {
  if (!s.scale) return undefined;
  return { requests_per_user_hour: 1, batch_spans: 512, ...s.scale };
}

const APP_ID = 'wx5f1c0ffee0ddba11';
/** POSTs of generated telemetry in flight or waiting beyond which the simulated clock waits. */
const CROWD_BACKLOG = 16;
/**
 * A tick later than this (the process did not get the CPU: a busy machine) does not turn into a burst of
 * requests: the simulated clock waits for the excess, so a simulated minute holds the same traffic.
 */
const LATE_TICK_MS = 100;
/** Real requests in flight per client above which the simulated clock waits for them instead of dropping new ones. */
const IN_FLIGHT_PER_CLIENT = 2;
/** Requests one client has in flight at most (a phone's concurrent wx.request limit is 10). */
const CLIENT_MAX_IN_FLIGHT = 8;

/** A small real JPEG of about `bytes` bytes: SOI, APP0, filler, EOI. */
function jpeg(bytes: number): Buffer {
  const head = Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
    0x01, 0x00, 0x00,
  ]);
  return Buffer.concat([head, randomBytes(Math.max(0, bytes - head.length - 2)), Buffer.from([0xff, 0xd9])]);
}

/** One simulated request as the model times it (simulated epoch ms, model ms). */
interface Plan {
  id: string;
  startMs: number;
  upMs: number;
  downMs: number;
  /** set by the balancer when the request reaches a server */
  serverMs?: number;
  fault?: 'timeout' | 'network';
  corrupt: boolean;
  timeoutMs: number;
}

/** How long the request took on the simulated clock: what the client's span says. */
function planDuration(p: Plan): number {
  if (p.fault === 'timeout') return p.timeoutMs;
  if (p.fault === 'network') return p.upMs;
  return p.upMs + (p.serverMs ?? 0) + p.downMs;
}

/** A `Date` for a realm whose `now` is the given clock (with no arguments `new Date()` reads it too). */
function clockDate(now: () => number): DateConstructor {
  class SimulatedDate extends Date {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(now());
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return now();
    }
  }
  return SimulatedDate as unknown as DateConstructor;
}

const SIM_REQUEST_HEADER = 'x-mp-sim-request';
const UNLIMITED = { rate: 0, burst: Number.MAX_SAFE_INTEGER };
/** How long a real request may take before the shim gives up (a starved machine, not a modelled fault). */
const REAL_PATIENCE_MS = 10 * 60_000;
const ROUTE_OF_PATH = (path: string): Route | undefined =>
  /^\/upload(\?|$)/.test(path)
    ? 'upload.image'
    : /^\/images\/[^/?]+/.test(path)
      ? 'download.image'
      : undefined;

const SCANNER_PATHS = [
  '/wp-login.php',
  '/.env',
  '/admin/config.php',
  '/phpmyadmin/',
  '/.git/config',
  '/cgi-bin/luci',
  '/actuator/health',
  '/solr/admin/info/system',
  '/api/v1/../../etc/passwd',
  '/HNAP1/',
];

/** Runs a scenario; waits for any other simulation on this machine to finish first (see lock.ts). */
export function simulate(scenario: Scenario, options: SimulateOptions): Promise<SimulationResult> {
  return withMachineLock(() => run(scenario, options));
}

async function run(scenario: Scenario, options: SimulateOptions): Promise<SimulationResult> {
  const log = options.log ?? (() => {});
  const random = rng(scenario.seed);
  const work = mkdtempSync(join(tmpdir(), `mp-otel-sim-${scenario.name}-`));
  const durationMs = scenario.duration_minutes * 60_000;
  const setupStartedMs = Date.now();
  // The simulated clock starts when the traffic does (set again below, once the fleet is up).
  const clock: Clock = { realStartMs: setupStartedMs, simStartMs: 0, speed: scenario.speed };
  const startClock = () => {
    clock.realStartMs = Date.now();
    clock.simStartMs = scenario.start ? Date.parse(scenario.start) : clock.realStartMs - durationMs;
  };
  startClock();
  // What the phones read before the traffic starts: the value the simulated clock will start from (so their
  // time never runs backwards when it does; the SDK times its queue and sessions with it).
  let running = false;
  const phoneNow = () =>
    running ? simNow(clock) : scenario.start ? Date.parse(scenario.start) : Date.now() - durationMs;
  const simStartMs = () => clock.simStartMs;
  const faults: FaultWindow[] = scenario.faults.map((f) => ({
    name: f.name,
    effect: f.effect,
    fromMs: f.from_minute * 60_000, // relative until the clock starts
    toMs: f.to_minute * 60_000,
    where: f.where,
    routes: f.routes,
  }));
  const active = (
    effect: Fault['effect'],
    profile: Partial<Record<Dimension, string>>,
    route: Route | undefined,
    now = simNow(clock),
  ) => {
    return faults.some(
      (f) =>
        f.effect === effect &&
        now >= f.fromMs &&
        now < f.toMs &&
        matchesWhere(f.where, profile) &&
        (!f.routes || (route !== undefined && f.routes.includes(route))),
    );
  };

  /** A slow node's extra time at a simulated moment (the model's share of a slow_node fault). */
  const slowDelay = (node: string, atMs: number) => {
    let extra = 0;
    for (const f of scenario.faults) {
      if (
        f.effect !== 'slow_node' ||
        !matchesWhere({ 'host.name': f.where!['host.name']! }, { 'host.name': node })
      )
        continue;
      const from = clock.simStartMs + f.from_minute * 60_000;
      const to = clock.simStartMs + f.to_minute * 60_000;
      if (atMs >= from && atMs < to) extra += f.delay_ms ?? 1500;
    }
    return extra;
  };

  const closers: Array<() => Promise<unknown> | unknown> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => {});
  };
  // last to run: the image store, photos and chaos files (hundreds of MB for a long scenario); also on the
  // way out of a process a signal ends mid-run (the CLI runs the 'exit' listeners before re-raising it)
  const removeWork = () => rmSync(work, { recursive: true, force: true });
  process.once('exit', removeWork);
  closers.push(() => {
    process.off('exit', removeWork);
    removeWork();
  });
  try {
    // ── telemetry through the simulated clock ──
    const model = latencyModel(scenario);
    const plans = new Map<string, Plan>();
    let planSeq = 0;
    const traceModels = new TraceModels();
    // A seed-scale replay clones the service's own SERVER spans (by route and status) and node resources.
    const crowdSpec = scaleOf(scenario);
    const serverSpans = new Map<string, any>();
    const nodeResources = new Map<string, any[]>();
    const observe = crowdSpec
      ? (signal: string, body: any) => {
          if (signal !== 'traces') return;
          for (const rs of body.resourceSpans ?? []) {
            const attrs: any[] = rs.resource?.attributes ?? [];
            const host = attrs.find((a) => a.key === 'host.name')?.value?.stringValue;
            if (host && !nodeResources.has(host)) nodeResources.set(host, structuredClone(attrs));
            for (const ss of rs.scopeSpans ?? [])
              for (const sp of ss.spans ?? []) {
                if (sp.kind !== 2) continue;
                const attr = (k: string) => sp.attributes?.find((a: any) => a.key === k)?.value;
                const route = ROUTE_OF_PATH(String(attr('url.path')?.stringValue ?? ''));
                const key = `${route}|${attr('http.response.status_code')?.intValue ?? ''}`;
                if (route && !serverSpans.has(key)) serverSpans.set(key, structuredClone(sp));
              }
          }
        }
      : undefined;
    const warp = await startTimeWarp(options.otlpUrl, clock, traceModels, observe);
    closers.push(() => warp.close());

    // ── backend: image-service nodes with the Node preset (+ chaos), behind a round-robin balancer ──
    const serviceDir = dirname(require.resolve('@mp-otel/example-image-service/package.json'));
    const nodes: Array<{ name: string; url: string; child: ChildProcess }> = [];
    for (let i = 1; i <= scenario.backend.nodes; i++) {
      const name = `node-${i}`;
      const child = spawn(
        process.execPath,
        ['--import', '@mp-otel/node/register', '--import', '@mp-otel/simulator/chaos', 'src/server.js'],
        {
          cwd: serviceDir,
          env: {
            ...process.env,
            PORT: '0',
            HOST: '127.0.0.1',
            STORAGE_DIR: join(work, 'images'), // one shared store, as behind a real balancer
            OTEL_SERVICE_NAME: 'image-service',
            OTEL_RESOURCE_ATTRIBUTES: `host.name=${name},deployment.environment.name=simulation`,
            OTEL_EXPORTER_OTLP_ENDPOINT: warp.url,
            OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
            OTEL_BSP_SCHEDULE_DELAY: '500',
            OTEL_METRIC_EXPORT_INTERVAL: '5000',
            MP_CHAOS_FILE: join(work, `chaos-${name}.json`),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (c) => {
          const m = /listening on (\d+)/.exec(String(c));
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`image-service ${name} exited with ${code}`)));
      });
      nodes.push({ name, url: `http://127.0.0.1:${port}`, child });
      closers.push(
        () =>
          new Promise((r) => {
            if (child.exitCode !== null) return r(undefined);
            child.once('exit', r);
            child.kill('SIGTERM');
          }),
      );
    }
    let turn = 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    // The balancer times each request on the model: when it reaches the server (simulated), how long the
    // node takes (the route's time, plus a slow node's delay), registered under the request's trace for the
    // time warp. Requests that come without trace context (scanners, crawlers) get one here, as an edge that
    // starts traces would, so that their server spans are timed by the model too.
    const balancer = http.createServer((req, res) => {
      const headers = { ...req.headers };
      const plan = plans.get(String(headers[SIM_REQUEST_HEADER] ?? ''));
      delete headers[SIM_REQUEST_HEADER];
      // Round-robin in the order the requests were planned on the simulated clock, not the order they reach
      // this process: that follows the real machine's scheduling, and on a busy machine it tied which node
      // served a client's requests to their timing (once 22 of 28 failing uploads went to one node of two,
      // and the diagnosis blamed the node). Requests without a plan (scanners, crawlers) take the next turn.
      const node = nodes[(plan ? Number(plan.id) : turn++) % nodes.length]!;
      let traceId = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/i.exec(
        String(headers.traceparent ?? ''),
      )?.[1];
      if (!traceId) {
        traceId = randomBytes(16).toString('hex');
        headers.traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
      }
      const serverStart = plan ? plan.startMs + plan.upMs : simNow(clock);
      const serverMs = model.server(ROUTE_OF_PATH(req.url ?? '')) + slowDelay(node.name, serverStart);
      if (plan) plan.serverMs = serverMs;
      traceModels.set(traceId, { startMs: serverStart, durationMs: serverMs, realAnchorMs: Date.now() });
      const up = http.request(`${node.url}${req.url}`, { method: req.method, headers, agent }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', r));
    const lb = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}`;
    closers.push(() => new Promise((r) => balancer.close(r)));
    closers.push(() => agent.destroy());
    log(
      `simulate: ${scenario.name}: ${nodes.length} image-service nodes behind ${lb}; telemetry → ${options.otlpUrl}`,
    );

    // ── images ──
    const [minKb, maxKb] = scenario.actions['upload.image']?.size_kb ?? [20, 400];
    const pool = Array.from({ length: 12 }, (_, i) => {
      const kb = minKb * (maxKb / minKb) ** (i / 11);
      const path = join(work, `photo-${i}.jpg`);
      writeFileSync(path, jpeg(Math.round(kb * 1024)));
      return { path, kb };
    });
    const SEEDED_KB = 30_000 / 1024;
    /** A real request through the balancer, before the fleet starts (seed images, templates). */
    const direct = (
      method: string,
      path: string,
      payload?: Buffer,
      headers: Record<string, string | number> = {},
    ) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const req = http.request(`${lb}${path}`, { method, headers }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        });
        req.on('error', reject);
        req.end(payload);
      });
    const multipart = (body: Buffer, closed = true) => {
      const boundary = 'seed';
      const payload = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="seed.jpg"\r\ncontent-type: image/jpeg\r\n\r\n`,
        ),
        body,
        Buffer.from(closed ? `\r\n--${boundary}--\r\n` : ''),
      ]);
      return [
        payload,
        { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': payload.length },
      ] as const;
    };
    const seeded: string[] = [];
    const responseBytes: Record<string, number> = {};
    for (let i = 0; i < 6; i++) {
      const r = await direct('POST', '/upload', ...multipart(jpeg(30_000)));
      seeded.push(JSON.parse(r.body.toString()).id);
      responseBytes[`upload.image|${r.status}`] = r.body.length;
    }
    if (crowdSpec) {
      // what the service answers a truncated upload and a download with (sizes here; spans via the warp)
      const bad = await direct('POST', '/upload', ...multipart(jpeg(2_000), false));
      responseBytes[`upload.image|${bad.status}`] = bad.body.length;
      const got = await direct('GET', `/images/${seeded[0]}`);
      responseBytes[`download.image|${got.status}`] = got.body.length;
      const wanted = ['upload.image|201', 'upload.image|400', 'download.image|200'];
      await waitFor(
        () => wanted.every((k) => serverSpans.has(k)) && nodeResources.size === nodes.length,
        30_000,
        `the image service's spans for ${wanted.join(', ')} from every node`,
      );
    }

    // ── the fleet ──
    const byGeo = geoRanges(options.ipRanges);
    const routes = options.routes ?? [
      { name: 'upload.image', method: 'POST', url: /\/upload(\?|$)/ },
      { name: 'download.image', method: 'GET', url: /\/images\/[^/?]+/ },
    ];
    const clients = Array.from({ length: scenario.clients }, () => {
      const profile = drawProfile(scenario.mix, random, byGeo);
      const routeOf = (url: string): Route | undefined =>
        url.startsWith(lb)
          ? url.includes('/upload')
            ? 'upload.image'
            : url.includes('/images/')
              ? 'download.image'
              : undefined
          : undefined;
      // What this phone's realm reads as the time: the simulated clock, pinned while a request's span
      // starts (to the modelled start) and ends (to the modelled end); `current` is the request being made.
      const state: { pin?: number; current?: Plan } = {};
      const { wx, control } = createWx({
        tempParent: work, // removed with it, also when a signal ends the run before the clients are killed
        storage: new WxStorage(),
        clientIp: profile.ip || undefined,
        fingerprint: wxFingerprint(profile, APP_ID),
        network: (call) => {
          const plan = state.current;
          if (!plan || !routeOf(call.url)) return undefined;
          // A 15 s timeout lasts 15 simulated seconds: 15 000 / speed real ms (its span says 15 s).
          if (plan.fault === 'timeout')
            return { fail: 'timeout', afterMs: Math.max(20, plan.timeoutMs / scenario.speed) };
          if (plan.fault === 'network') return { fail: 'network' };
          return undefined;
        },
        truncateUpload: () => state.current?.corrupt ?? false,
      });
      // Below the SDK (which wraps these after us): when the shim answers, the clock reads the modelled end.
      for (const api of ['uploadFile', 'downloadFile'] as const) {
        const original = wx[api];
        wx[api] = function (this: unknown, opts: any) {
          const plan = state.current;
          if (!plan) return original.call(this, opts);
          const atEnd = (fn: unknown, succeeded: boolean) =>
            typeof fn === 'function'
              ? function (this: unknown, res: unknown) {
                  const took = planDuration(plan);
                  state.pin = plan.startMs + Math.min(took, plan.timeoutMs);
                  try {
                    // slower than the app's timeout on the model: the app saw a timeout
                    if (succeeded && took > plan.timeoutMs)
                      return opts.fail?.call(this, { errMsg: `${api}:fail timeout`, errno: 5 });
                    return fn.call(this, res);
                  } finally {
                    state.pin = undefined;
                    plans.delete(plan.id);
                  }
                }
              : fn;
          return original.call(this, {
            ...opts,
            success: atEnd(opts.success, true),
            fail: atEnd(opts.fail, false),
          });
        };
      }
      const { sdk, realm } = loadMiniProgramSdk(wx, {
        Date: clockDate(() => state.pin ?? phoneNow()),
      });
      const otel = sdk.init({
        serviceName: 'image-miniprogram',
        endpoint: options.otlpUrl, // on the simulated clock already: no warp
        routes,
        sampleRate: scenario.sample_rate,
        batch: { delayMs: 500 },
        // Off (no refill, no ceiling): a phone's clock jumps to each request's modelled start and end, and
        // concurrent requests end out of order, which a token bucket reads as time running backwards and
        // answers by dropping spans for as long as the real requests took. The scenario bounds the traffic.
        rateLimit: { traces: UNLIMITED, logs: UNLIMITED },
      });
      return { profile, wx, control, realm, otel, state, inFlight: 0 };
    });
    closers.push(async () => {
      await Promise.all(
        clients.map((c) => Promise.race([c.otel.shutdown(), new Promise((r) => setTimeout(r, 5_000))])),
      );
      for (const c of clients) {
        c.control.kill();
        c.realm.dispose();
      }
    });

    // ── the clock starts now: fault windows become absolute, backend chaos schedules are written ──
    startClock();
    running = true;
    for (const f of faults) {
      f.fromMs += clock.simStartMs;
      f.toMs += clock.simStartMs;
    }
    for (const node of nodes) {
      const schedule = scenario.faults
        .filter(
          (f) =>
            f.effect === 'slow_node' &&
            matchesWhere({ 'host.name': f.where!['host.name']! }, { 'host.name': node.name }),
        )
        .map((f) => ({
          from: realAt(clock, clock.simStartMs + f.from_minute * 60_000),
          to: realAt(clock, clock.simStartMs + f.to_minute * 60_000),
          // the node really holds its answers, for the simulated delay's real share; spans say the model's
          delayMs: (f.delay_ms ?? 1500) / scenario.speed,
        }));
      writeFileSync(join(work, `chaos-${node.name}.json`), JSON.stringify(schedule));
    }
    let crowd: Crowd | undefined;
    if (crowdSpec) {
      crowd = new Crowd({
        scenario,
        scale: crowdSpec,
        otlpUrl: options.otlpUrl,
        model: latencyModel({ ...scenario, seed: scenario.seed + 1 }),
        byGeo,
        lb,
        seeded,
        uploadKb: pool.map((p) => p.kb),
        responseBytes,
        serverSpans,
        nodeResources,
        active: (effect, profile, route, at) => active(effect, profile, route, at),
        slowDelay,
        appId: APP_ID,
      });
      closers.push(() => crowd?.close());
      log(
        `simulate: seed scale: ${crowdSpec.users} users (${scenario.clients} of them the real SDK), ${crowdSpec.requests_per_user_hour} requests per user-hour`,
      );
    }
    log(`simulate: the clock starts at ${new Date(clock.simStartMs).toISOString()} (×${clock.speed})`);

    // ── traffic ──
    const outcomes: Record<string, Record<string, number>> = {};
    const count = (route: string, outcome: string) => {
      outcomes[route] ??= {};
      outcomes[route]![outcome] = (outcomes[route]![outcome] ?? 0) + 1;
    };
    const actionWeights = Object.fromEntries(
      Object.entries(scenario.actions).map(([k, v]) => [k, v!.weight]),
    );
    const act = (c: (typeof clients)[number]) => {
      const route = pick(actionWeights, random) as Route;
      const startMs = simNow(clock);
      const net = c.profile['network.type'];
      const file = route === 'upload.image' ? pool[Math.floor(random() * pool.length)]! : undefined;
      const plan: Plan = {
        id: String(++planSeq),
        startMs,
        upMs: model.up(net, file?.kb ?? 0.5),
        downMs: model.down(net, file ? 0.1 : SEEDED_KB),
        fault: active('timeout', c.profile, route, startMs)
          ? 'timeout'
          : active('network_error', c.profile, route, startMs)
            ? 'network'
            : undefined,
        corrupt: route === 'upload.image' && active('corrupt_upload', c.profile, route, startMs),
        timeoutMs: 15_000,
      };
      plans.set(plan.id, plan);
      c.inFlight++;
      const done = (outcome: string) => {
        c.inFlight--;
        count(route, outcome);
      };
      const callbacks = {
        success: (res: any) => done(String(res.statusCode)),
        fail: (err: any) => done(/timeout/.test(err.errMsg) ? 'timeout' : 'network'),
        // The app's timeout is the model's (15 simulated seconds, see atEnd). The real request is given as
        // long as it needs: on a starved machine it may take seconds, which says nothing about the network
        // (a timeout fault's real wait is its real share: see `network` above).
        timeout: plan.fault === 'timeout' ? plan.timeoutMs : REAL_PATIENCE_MS,
        header: { [SIM_REQUEST_HEADER]: plan.id },
      };
      c.state.current = plan;
      c.state.pin = startMs; // the SDK starts its span now
      try {
        if (file) c.wx.uploadFile({ url: `${lb}/upload`, filePath: file.path, name: 'file', ...callbacks });
        else
          c.wx.downloadFile({
            url: `${lb}/images/${seeded[Math.floor(random() * seeded.length)]}`,
            ...callbacks,
          });
      } finally {
        c.state.current = undefined;
        c.state.pin = undefined;
      }
    };
    let noiseRequests = 0;
    const noise = (path: string, method: string, headers: Record<string, string>) => {
      noiseRequests++;
      const req = http.request(`${lb}${path}`, { method, headers, agent }, (res) => res.resume());
      req.on('error', () => {});
      req.end();
    };

    let minute = -1;
    let owed = 0;
    let lastTick = Date.now();
    let crowdAt = clock.simStartMs;
    let crowdStalledMs = 0;
    let crowdFlushed = Date.now();
    const scans = scenario.noise.filter((n) => n.kind === 'security_scan');
    const crawlers = scenario.noise.filter((n) => n.kind === 'crawler');
    let crawlOwed = 0;
    let clockWaitedMs = 0;
    /** The simulated clock stands still for `ms` of real time (nothing is generated for it). */
    const wait = (ms: number) => {
      clock.realStartMs += ms;
      clockWaitedMs += ms;
    };
    await new Promise<void>((resolve) => {
      const tick = setInterval(async () => {
        const now = Date.now();
        // The receiver fell behind the generated users: the simulated clock waits for it (the real
        // clients make no requests meanwhile), so what lands in a minute does not depend on its speed.
        if (crowd && crowd.backlog() > CROWD_BACKLOG) {
          wait(now - lastTick);
          crowdStalledMs += now - lastTick;
          lastTick = now;
          return;
        }
        // The same for the real clients: requests still in flight (the services, the SDK or this process
        // are slow on a busy machine) hold the clock instead of being dropped or sent in a burst.
        const inFlight = clients.reduce((n, c) => n + c.inFlight, 0);
        if (inFlight > IN_FLIGHT_PER_CLIENT * clients.length) {
          wait(now - lastTick);
          lastTick = now;
          return;
        }
        if (now - lastTick > LATE_TICK_MS) {
          wait(now - lastTick - LATE_TICK_MS);
          lastTick = now - LATE_TICK_MS;
        }
        const sim = simNow(clock, now);
        if (crowd) {
          const to = Math.min(sim, simStartMs() + durationMs);
          crowd.advance(crowdAt, to, scenario.clients);
          crowdAt = to;
          if (now - crowdFlushed >= 500) {
            crowd.tick();
            crowdFlushed = now;
          }
        }
        if (sim >= simStartMs() + durationMs) {
          clearInterval(tick);
          resolve();
          return;
        }
        const m = Math.floor((sim - simStartMs()) / 60_000);
        if (m !== minute) {
          minute = m;
          for (const scan of scans) {
            if (m % (scan.every_minutes ?? 10) !== 0) continue;
            const ip = scan.ips?.[0] ?? '185.220.101.7';
            for (let i = 0; i < (scan.requests ?? 100); i++) {
              noise(SCANNER_PATHS[i % SCANNER_PATHS.length]!, i % 3 === 0 ? 'POST' : 'GET', {
                'user-agent':
                  scan.user_agent ??
                  'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)',
                'x-forwarded-for': ip,
                'x-real-ip': ip,
              });
            }
          }
          void Promise.resolve(options.onMinute?.(simStartMs() + m * 60_000, m)).catch(() => {});
        }
        const dt = (now - lastTick) / 1000;
        lastTick = now;
        owed += scenario.requests_per_second * dt;
        while (owed >= 1) {
          owed--;
          // a client at its limit hands the request to the next one (one with room exists: the clock
          // waits above long before every client is at its limit)
          let i = Math.floor(random() * clients.length);
          for (let k = 0; k < clients.length && clients[i]!.inFlight >= CLIENT_MAX_IN_FLIGHT; k++)
            i = (i + 1) % clients.length;
          act(clients[i]!);
        }
        for (const crawler of crawlers) {
          // requests per simulated minute → per real second: × speed / 60
          crawlOwed += ((crawler.requests ?? 300) * scenario.speed * dt) / 60;
          while (crawlOwed >= 1) {
            crawlOwed--;
            const ips = crawler.ips ?? ['203.0.113.9'];
            const ip = ips[Math.floor(random() * ips.length)]!;
            noise(`/images/${seeded[Math.floor(random() * seeded.length)]}`, 'GET', {
              'user-agent': crawler.user_agent ?? 'python-requests/2.31.0',
              'x-forwarded-for': ip,
              'x-real-ip': ip,
            });
          }
        }
      }, 20);
    });

    // ── wind down: let requests finish, then every app goes to the background (the SDK flushes) ──
    const settleBy = Date.now() + 20_000;
    while (clients.some((c) => c.inFlight > 0) && Date.now() < settleBy)
      await new Promise((r) => setTimeout(r, 50));
    for (const c of clients) c.control.emit('appHide');
    await Promise.all(
      clients.map((c) => Promise.race([c.otel.flush(), new Promise((r) => setTimeout(r, 10_000))])),
    );
    const crowdDrainStarted = Date.now();
    await crowd?.flush();
    const crowdDrainSeconds = (Date.now() - crowdDrainStarted) / 1000;
    await closeAll(); // nodes get SIGTERM: the preset flushes spans and metrics on the way out
    return {
      scenario: scenario.name,
      clock,
      simStartMs: clock.simStartMs,
      simEndMs: clock.simStartMs + durationMs,
      faults,
      outcomes,
      noiseRequests,
      realSeconds: (Date.now() - setupStartedMs) / 1000,
      clockWaitedSeconds: clockWaitedMs / 1000,
      ...(crowd
        ? {
            crowd: {
              ...crowd.stats,
              drainSeconds: crowdDrainSeconds,
              clockWaitedSeconds: crowdStalledMs / 1000,
            },
          }
        : {}),
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
