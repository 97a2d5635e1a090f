// A seed-scale replay's crowd: the users beyond the sample of real SDK clients, generated as the SDK and
// the Node preset would emit their telemetry, straight into the real OTLP receiver. Each request gets a
// user (a fingerprint drawn from the scenario's mix, the same user always the same phone, device id and
// address), a route, the scenario's faults and the latency model's timings on the simulated clock — the
// same plan a real client's request gets — and becomes a CLIENT span with the SDK's resource and
// attributes and, when it reached a server, a SERVER span cloned from what the real image-service node
// emitted for that route and status during set-up (so its attributes are the Node preset's own).
// Batching: each phone's spans go out as its own resourceSpans (its resource, its spans), as the SDK's
// export does; many phones' batches share one POST (a real fleet would make one POST each, which changes
// nothing in the stored rows: the receiver stamps client.address from each phone's X-Real-IP, so here
// each span carries the phone's address itself). Backend spans go per node, up to `batch_spans` a POST,
// as the preset's batch processor sends them.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import { shortHash } from '@mp-otel/miniprogram';
import type { LatencyModel } from './latency.js';
import { drawProfile, type GeoRanges, type Profile } from './profile.js';
import { type Fault, pick, type Route, rng, type Scenario } from './scenario.js';

const require = createRequire(import.meta.url);
const SDK_VERSION: string = require('@mp-otel/miniprogram/package.json').version;

export interface ScaleSpec {
  /** users the replay stands for (the crowd plus the real SDK sample) */
  users: number;
  /** requests a user makes in a simulated hour */
  requests_per_user_hour: number;
  /** spans per OTLP POST (default 512, the SDK's and the preset's batch size) */
  batch_spans?: number;
}

/** What the real image service emitted (during set-up) for a route and status: the preset's own span. */
export interface ServerTemplate {
  span: any;
}

export interface CrowdOptions {
  scenario: Scenario;
  scale: ScaleSpec;
  otlpUrl: string;
  model: LatencyModel;
  byGeo: GeoRanges;
  /** the balancer's URL (the SDK's url.full, server.address, server.port) */
  lb: string;
  seeded: string[];
  uploadKb: number[];
  /** response body sizes the real service answered with, by `route|status` */
  responseBytes: Record<string, number>;
  /** SERVER spans by `route|status` and node resources (OTLP/JSON attribute lists) by host.name */
  serverSpans: Map<string, any>;
  nodeResources: Map<string, any[]>;
  active(effect: Fault['effect'], profile: Profile, route: Route, atMs: number): boolean;
  slowDelay(node: string, atMs: number): number;
  appId: string;
}

export interface CrowdStats {
  users: number;
  requests: number;
  clientSpans: number;
  serverSpans: number;
  posts: number;
  failedPosts: number;
  /** the most POSTs that waited to be sent at once (the receiver fell behind when this grows) */
  maxQueued: number;
}

const kv = (key: string, v: string | number) =>
  typeof v === 'number'
    ? { key, value: Number.isInteger(v) ? { intValue: v } : { doubleValue: v } }
    : { key, value: { stringValue: v } };
const hex = (r: () => number, chars: number) => {
  let s = '';
  while (s.length < chars)
    s += Math.floor(r() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, chars);
};
const nanos = (ms: number) => `${Math.round(ms)}000000`;

/** A user's phone: the same index always gives the same fingerprint, device id and address. */
export function crowdUser(
  scenario: Pick<Scenario, 'mix' | 'seed'>,
  index: number,
  byGeo: GeoRanges,
): Profile & { deviceId: string } {
  const r = rng((Math.imul(index + 1, 0x9e3779b1) ^ scenario.seed ^ 0x5ca1e) >>> 0);
  const profile = drawProfile(scenario.mix, r, byGeo);
  return { ...profile, deviceId: hex(r, 32) };
}

/** The resource the SDK reports for a phone (resource.ts + the session and device ids). */
export function sdkResource(
  p: Profile & { deviceId: string },
  sessionId: string,
  appId: string,
  serviceName = 'image-miniprogram',
): any[] {
  const osVersion = (p.system.match(/\d+(\.\d+)*/) || [''])[0]!;
  return [
    kv('service.name', serviceName),
    kv('service.version', p['service.version']),
    kv('deployment.environment.name', 'release'),
    kv('telemetry.distro.name', 'mp-otel'),
    kv('telemetry.distro.version', SDK_VERSION),
    kv('os.name', p['os.name']),
    kv('os.version', osVersion),
    kv('device.manufacturer', p.brand),
    kv('device.model.name', p.model),
    kv('mp.platform', 'wechat'),
    kv('mp.app_id', appId),
    kv('mp.host.version', p['mp.host.version']),
    kv('mp.base_library.version', p['mp.base_library.version']),
    kv(
      'mp.fingerprint',
      shortHash(
        ['wechat', p['service.version'], p['mp.host.version'], p['mp.base_library.version'], appId].join('|'),
      ),
    ),
    kv('session.id', sessionId),
    kv('device.id', p.deviceId),
  ];
}

/** The SDK's network.connection.* for a getNetworkType answer (wifi, or cell with the generation). */
function networkAttributes(type: string): any[] {
  return type === 'wifi' || type === 'none' || type === 'unknown'
    ? [kv('network.connection.type', type)]
    : [kv('network.connection.type', 'cell'), kv('network.connection.subtype', type)];
}

export interface ClientSpanInput {
  route: Route;
  url: string;
  /** HTTP status, or a failure ('timeout' | 'network') */
  outcome: number | 'timeout' | 'network';
  requestBytes?: number;
  responseBytes?: number;
  appErrorCode?: string;
  traceId: string;
  spanId: string;
  startMs: number;
  endMs: number;
  sampled: boolean;
  weight: number;
  networkType: string;
}

/** A CLIENT span as the SDK's requests.ts writes it for wx.uploadFile / wx.downloadFile. */
export function sdkClientSpan(i: ClientSpanInput): any {
  const api = i.route === 'upload.image' ? 'uploadFile' : 'downloadFile';
  const method = i.route === 'upload.image' ? 'POST' : 'GET';
  const m = /^(https?):\/\/([^/:]+)(?::(\d+))?/.exec(i.url)!;
  const port = m[3] ? Number(m[3]) : m[1] === 'https' ? 443 : 80;
  const failed = typeof i.outcome !== 'number';
  const attributes: any[] = [
    kv('mp.sampling.weight', i.weight),
    kv('http.request.method', method),
    kv('url.full', i.url),
    kv('server.address', m[2]!),
    kv('server.port', port),
    kv('mp.request.api', api),
    kv('mp.route_name', i.route),
  ];
  let status: any = { code: 0 };
  if (failed) {
    attributes.push(kv('error.type', i.outcome as string));
    status = {
      code: 2,
      message: i.outcome === 'timeout' ? `${api}:fail timeout` : `${api}:fail net::ERR_CONNECTION_RESET`,
    };
  } else {
    const code = i.outcome as number;
    attributes.push(kv('http.response.status_code', code));
    attributes.push(kv('http.response.body.size', i.responseBytes ?? 0));
    if (api === 'uploadFile') attributes.push(kv('http.request.body.size', i.requestBytes ?? 0));
    if (i.appErrorCode) attributes.push(kv('app.error_code', i.appErrorCode));
    if (!(code >= 100 && code < 400)) {
      attributes.push(kv('error.type', String(code)));
      status = { code: 2 };
    }
  }
  attributes.push(...networkAttributes(i.networkType));
  if (status.code === 2) attributes[0] = kv('mp.sampling.weight', 1); // the SDK keeps errors at weight 1
  return {
    traceId: i.traceId,
    spanId: i.spanId,
    name: `${method} ${i.route}`,
    kind: 3,
    startTimeUnixNano: nanos(i.startMs),
    endTimeUnixNano: nanos(i.endMs),
    attributes,
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    status,
    links: [],
    droppedLinksCount: 0,
    flags: i.sampled ? 257 : 256,
  };
}

/** Generates the crowd's requests minute by minute of the simulated clock and posts their telemetry. */
export class Crowd {
  readonly stats: CrowdStats;
  private readonly random: () => number;
  private owed = 0;
  private turn = 0;
  private clientBatch: any[] = [];
  private clientSpansInBatch = 0;
  private readonly serverBatches = new Map<string, any[]>();
  private readonly queue: Array<{ body: string }> = [];
  private sending = 0;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly idle: Array<() => void> = [];
  private readonly batchSpans: number;
  private readonly actionWeights: Record<string, number>;
  private readonly nodes: string[];

  constructor(private readonly o: CrowdOptions) {
    this.random = rng((o.scenario.seed ^ 0xc40d) >>> 0);
    this.batchSpans = o.scale.batch_spans ?? 512;
    this.actionWeights = Object.fromEntries(
      Object.entries(o.scenario.actions).map(([k, v]) => [k, v!.weight]),
    );
    this.nodes = [...o.nodeResources.keys()].sort();
    this.stats = {
      users: o.scale.users,
      requests: 0,
      clientSpans: 0,
      serverSpans: 0,
      posts: 0,
      failedPosts: 0,
      maxQueued: 0,
    };
  }

  /** The crowd's requests that start in [fromMs, toMs) of the simulated clock. */
  advance(fromMs: number, toMs: number, excludeUsers = 0): void {
    if (toMs <= fromMs) return;
    const users = Math.max(0, this.o.scale.users - excludeUsers);
    this.owed += (users * this.o.scale.requests_per_user_hour * (toMs - fromMs)) / 3_600_000;
    while (this.owed >= 1) {
      this.owed--;
      this.request(fromMs + this.random() * (toMs - fromMs), users);
    }
    if (this.clientSpansInBatch >= this.batchSpans) this.flushClients();
  }

  private request(startMs: number, users: number): void {
    const { o, random } = this;
    const s = o.scenario;
    this.stats.requests++;
    const index = Math.floor(random() * users);
    const user = crowdUser(s, index, o.byGeo);
    const route = pick(this.actionWeights, random) as Route;
    const upload = route === 'upload.image';
    const kb = upload ? o.uploadKb[Math.floor(random() * o.uploadKb.length)]! : 0.5;
    const net = user['network.type'];
    const upMs = o.model.up(net, kb);
    const fault = o.active('timeout', user, route, startMs)
      ? 'timeout'
      : o.active('network_error', user, route, startMs)
        ? 'network'
        : undefined;
    const corrupt = upload && !fault && o.active('corrupt_upload', user, route, startMs);
    const status = upload ? (corrupt ? 400 : 201) : 200;
    const key = `${route}|${status}`;
    const responseBytes = o.responseBytes[key] ?? 0;
    const downMs = o.model.down(net, responseBytes / 1024);
    const node = this.nodes[this.turn++ % this.nodes.length]!;
    const serverStart = startMs + upMs;
    const serverMs = fault ? 0 : o.model.server(route) + o.slowDelay(node, serverStart);
    let took = fault === 'timeout' ? 15_000 : fault === 'network' ? upMs : upMs + serverMs + downMs;
    let outcome: ClientSpanInput['outcome'] = fault ?? status;
    if (took > 15_000) {
      took = 15_000;
      outcome = 'timeout';
    }
    const sampled = random() < s.sample_rate;
    const error = typeof outcome !== 'number' || outcome >= 400;
    if (!sampled && !error) return; // the SDK exports unsampled spans only when they failed
    const traceId = hex(random, 32);
    const spanId = hex(random, 16);
    const url = upload
      ? `${o.lb}/upload`
      : `${o.lb}/images/${o.seeded[Math.floor(random() * o.seeded.length)]}`;
    const template = o.serverSpans.get(key);
    const client = sdkClientSpan({
      route,
      url,
      outcome,
      requestBytes: upload ? Math.round(kb * 1024) + 200 : undefined,
      responseBytes,
      appErrorCode: template ? appErrorCode(template) : undefined,
      traceId,
      spanId,
      startMs,
      endMs: startMs + took,
      sampled,
      weight: sampled && s.sample_rate > 0 ? 1 / s.sample_rate : 1,
      networkType: net,
    });
    if (user.ip) client.attributes.push(kv('client.address', user.ip));
    const session = hex(rng((index ^ Math.floor(startMs / 3_600_000)) >>> 0), 32);
    this.clientBatch.push({
      resource: { attributes: sdkResource(user, session, o.appId), droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: '@mp-otel/miniprogram', version: SDK_VERSION }, spans: [client] }],
    });
    this.clientSpansInBatch++;
    this.stats.clientSpans++;
    // a request the network failed never reached a server; an unsampled one is not recorded there
    if (fault || !sampled || !template || took >= 15_000) return;
    const span = structuredClone(template);
    span.traceId = traceId;
    span.spanId = hex(random, 16);
    span.parentSpanId = spanId;
    span.startTimeUnixNano = nanos(serverStart);
    span.endTimeUnixNano = `${BigInt(Math.round(serverStart * 1e6)) + BigInt(Math.round(serverMs * 1e6))}`;
    for (const a of span.attributes ?? []) {
      if (a.key === 'url.path' && !upload) a.value = { stringValue: new URL(url).pathname };
      if (a.key === 'network.peer.port') a.value = { intValue: 20_000 + Math.floor(random() * 40_000) };
    }
    const batch = this.serverBatches.get(node) ?? this.serverBatches.set(node, []).get(node)!;
    batch.push(span);
    this.stats.serverSpans++;
    if (batch.length >= this.batchSpans) this.flushNode(node);
  }

  private flushClients(): void {
    if (this.clientBatch.length === 0) return;
    this.enqueue(JSON.stringify({ resourceSpans: this.clientBatch }));
    this.clientBatch = [];
    this.clientSpansInBatch = 0;
  }

  private flushNode(node: string): void {
    const spans = this.serverBatches.get(node);
    if (!spans?.length) return;
    this.serverBatches.set(node, []);
    const resource = this.o.nodeResources.get(node)!;
    this.enqueue(
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: resource, droppedAttributesCount: 0 },
            scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http' }, spans }],
          },
        ],
      }),
    );
  }

  private enqueue(body: string): void {
    this.queue.push({ body });
    this.stats.maxQueued = Math.max(this.stats.maxQueued, this.queue.length);
    this.pump();
  }

  private pump(): void {
    while (this.sending < 4 && this.queue.length > 0) {
      const { body } = this.queue.shift()!;
      this.sending++;
      this.post(body, 0).finally(() => {
        this.sending--;
        this.pump();
        if (this.sending === 0 && this.queue.length === 0) for (const f of this.idle.splice(0)) f();
      });
    }
  }

  private post(body: string, attempt: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const req = http.request(
        `${this.o.otlpUrl}/v1/traces`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'x-mp-otel-batch': randomBytes(8).toString('hex') },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if ((status === 429 || status >= 500) && attempt < 5) {
              const wait = Number(res.headers['retry-after'] ?? 0) * 1000 || 200 * 2 ** attempt;
              setTimeout(() => this.post(body, attempt + 1).then(resolve), wait);
              return;
            }
            this.stats.posts++;
            if (status >= 300) this.stats.failedPosts++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        this.stats.failedPosts++;
        resolve();
      });
      req.end(body);
    });
  }

  /** POSTs waiting or on the wire. */
  backlog(): number {
    return this.queue.length + this.sending;
  }

  /** Sends whatever is batched and waits until every POST has been answered. */
  async flush(): Promise<void> {
    this.flushClients();
    for (const node of this.serverBatches.keys()) this.flushNode(node);
    if (this.sending === 0 && this.queue.length === 0) return;
    await new Promise<void>((r) => this.idle.push(r));
  }

  /** Batched spans wait at most this long (real ms) for company: the SDK's and the preset's delay. */
  tick(): void {
    this.flushClients();
    for (const node of this.serverBatches.keys()) this.flushNode(node);
  }

  close(): void {
    this.agent.destroy();
  }
}

function appErrorCode(span: any): string | undefined {
  const a = (span.attributes ?? []).find((x: any) => x.key === 'app.error_code');
  return a?.value?.stringValue;
}
