// kong/kong.yml: in sync with the catalog, and checked against Kong 3.9's declarative-config rules as far
// as is possible without Kong. The rules below are transcribed field by field from Kong 3.9.3's schema
// files (kong/db/schema/entities/{services,routes,plugins}.lua, kong/db/schema/typedefs.lua,
// kong/plugins/opentelemetry/schema.lua, kong/observability/tracing/propagation/schema.lua,
// kong/tools/queue_schema.lua). Not checked: Kong's router compiling the regex paths with PCRE, the
// plugin's runtime behaviour (nothing here runs Kong).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INGEST_KEY_HEADER, parseCatalog } from '@mp-otel/contracts';
import { repoRoot } from '@mp-otel/devkit';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { stackFiles } from '../src/generate.js';
import {
  appQuota,
  consumerName,
  renderKongNginxHttp,
  TELEMETRY_ROUTE,
  TELEMETRY_UPSTREAM,
} from '../src/kong.js';
import { kongMatches } from '../src/rehearsal.js';

type Any = any;

const SERVICE_FIELDS = new Set([
  'id',
  'name',
  'retries',
  'protocol',
  'host',
  'port',
  'path',
  'connect_timeout',
  'write_timeout',
  'read_timeout',
  'tags',
  'client_certificate',
  'tls_verify',
  'tls_verify_depth',
  'ca_certificates',
  'enabled',
  'url',
  'routes',
  'plugins',
]);
const ROUTE_FIELDS = new Set([
  'id',
  'name',
  'protocols',
  'https_redirect_status_code',
  'strip_path',
  'preserve_host',
  'request_buffering',
  'response_buffering',
  'tags',
  'service',
  'snis',
  'sources',
  'destinations',
  'methods',
  'hosts',
  'paths',
  'headers',
  'regex_priority',
  'path_handling',
  'expression',
  'priority',
  'plugins',
]);
const PLUGIN_FIELDS = new Set([
  'id',
  'name',
  'instance_name',
  'route',
  'service',
  'consumer',
  'config',
  'protocols',
  'enabled',
  'tags',
]);
const OTEL_CONFIG_FIELDS = new Set([
  'traces_endpoint',
  'logs_endpoint',
  'headers',
  'resource_attributes',
  'queue',
  'batch_span_count',
  'batch_flush_delay',
  'connect_timeout',
  'send_timeout',
  'read_timeout',
  'http_response_header_for_traceid',
  'header_type',
  'sampling_rate',
  'propagation',
  'endpoint',
]);
const PROPAGATION_FORMATS = ['w3c', 'b3', 'b3-single', 'jaeger', 'ot', 'datadog', 'aws', 'gcp'];
const QUEUE_RANGES: Record<string, [number, number]> = {
  max_batch_size: [1, 1_000_000],
  max_coalescing_delay: [0, 3600],
  max_entries: [1, 1_000_000],
  max_retry_time: [0, Number.MAX_SAFE_INTEGER],
  initial_retry_delay: [0.001, 1_000_000],
  max_retry_delay: [0.001, 1_000_000],
};
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'];
// kong/plugins/key-auth/schema.lua, kong/plugins/rate-limiting/schema.lua (3.9.3; DB-less: policy local|redis),
// kong/db/schema/entities/consumers.lua, kong/plugins/key-auth/daos.lua
const KEY_AUTH_FIELDS = new Set([
  'key_names',
  'hide_credentials',
  'anonymous',
  'key_in_header',
  'key_in_query',
  'key_in_body',
  'run_on_preflight',
  'realm',
]);
const RATE_LIMITING_FIELDS = new Set([
  'second',
  'minute',
  'hour',
  'day',
  'month',
  'year',
  'limit_by',
  'header_name',
  'path',
  'policy',
  'fault_tolerant',
  'redis',
  'hide_client_headers',
  'error_code',
  'error_message',
  'sync_rate',
]);
const PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'];
const CONSUMER_FIELDS = new Set(['id', 'username', 'custom_id', 'tags', 'keyauth_credentials', 'plugins']);

/** Returns every rule violation (empty = valid). */
export function checkKongConfig(doc: Any): string[] {
  const errors: string[] = [];
  const err = (where: string, msg: string) => errors.push(`${where}: ${msg}`);
  const tagOk = (t: unknown) =>
    typeof t === 'string' && t.length > 0 && /^[\x21-\x7e\u0080-\uffff]+$/.test(t) && !/[,/]/.test(t);
  const utf8NameOk = (n: unknown) => typeof n === 'string' && /^[\p{L}\p{N}._~-]+$/u.test(n);
  const checkTags = (where: string, tags: unknown) => {
    if (tags === undefined) return;
    if (!Array.isArray(tags)) return err(where, 'tags must be an array');
    if (new Set(tags).size !== tags.length) err(where, 'tags must be a set (no duplicates)');
    for (const t of tags)
      if (!tagOk(t)) err(where, `invalid tag ${JSON.stringify(t)} (printable, no ',' or '/')`);
  };
  const checkUrl = (where: string, u: unknown) => {
    try {
      const url = new URL(String(u));
      if (!['http:', 'https:'].includes(url.protocol)) err(where, `url scheme ${url.protocol}`);
    } catch {
      err(where, `invalid url ${JSON.stringify(u)}`);
    }
  };
  const checkPlugin = (where: string, p: Any, scope = 'other') => {
    for (const k of Object.keys(p)) if (!PLUGIN_FIELDS.has(k)) err(where, `unknown plugin field ${k}`);
    checkTags(where, p.tags);
    if (p.name === 'key-auth') {
      if (scope === 'consumer') err(where, 'key-auth cannot be configured on a consumer (no_consumer)');
      const c = p.config ?? {};
      for (const k of Object.keys(c)) if (!KEY_AUTH_FIELDS.has(k)) err(where, `unknown key-auth field ${k}`);
      for (const n of c.key_names ?? ['apikey'])
        if (typeof n !== 'string' || !/^[A-Za-z0-9_-]+$/.test(n)) err(where, `bad key name ${n}`);
      for (const k of [
        'hide_credentials',
        'key_in_header',
        'key_in_query',
        'key_in_body',
        'run_on_preflight',
      ])
        if (c[k] !== undefined && typeof c[k] !== 'boolean') err(where, `${k} must be boolean`);
      return;
    }
    if (p.name === 'rate-limiting') {
      const c = p.config ?? {};
      for (const k of Object.keys(c))
        if (!RATE_LIMITING_FIELDS.has(k)) err(where, `unknown rate-limiting field ${k}`);
      const set = PERIODS.filter((k) => c[k] !== undefined);
      if (!set.length) err(where, 'at_least_one_of second, minute, hour, day, month, year');
      for (const k of set) if (!(typeof c[k] === 'number' && c[k] > 0)) err(where, `${k} must be > 0`);
      for (let i = 0; i < set.length; i++)
        for (let j = i + 1; j < set.length; j++)
          if (c[set[j] as string] < c[set[i] as string])
            err(where, `the limit for ${set[j]} cannot be lower than the limit for ${set[i]}`);
      if (
        c.limit_by !== undefined &&
        !['consumer', 'credential', 'ip', 'service', 'header', 'path'].includes(c.limit_by)
      )
        err(where, `bad limit_by ${c.limit_by}`);
      if (c.policy !== undefined && !['local', 'redis'].includes(c.policy))
        err(where, `policy ${c.policy} is not available without a database (local, redis)`);
      if (c.error_code !== undefined && !(typeof c.error_code === 'number' && c.error_code > 0))
        err(where, 'error_code must be > 0');
      return;
    }
    if (p.name !== 'opentelemetry') return;
    const c = p.config ?? {};
    for (const k of Object.keys(c))
      if (!OTEL_CONFIG_FIELDS.has(k)) err(where, `unknown opentelemetry config field ${k}`);
    if (!c.traces_endpoint && !c.logs_endpoint && !c.endpoint)
      err(where, 'at_least_one_of traces_endpoint, logs_endpoint');
    if (c.traces_endpoint) checkUrl(`${where}.traces_endpoint`, c.traces_endpoint);
    if (
      c.sampling_rate !== undefined &&
      !(typeof c.sampling_rate === 'number' && c.sampling_rate >= 0 && c.sampling_rate <= 1)
    ) {
      err(where, 'sampling_rate must be a number between 0 and 1');
    }
    if (c.resource_attributes !== undefined) {
      for (const [k, v] of Object.entries(c.resource_attributes)) {
        if (typeof v !== 'string' || v === '')
          err(where, `resource_attributes.${k} must be a non-empty string`);
      }
    }
    if (
      c.http_response_header_for_traceid !== undefined &&
      !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(c.http_response_header_for_traceid)
    ) {
      err(where, 'http_response_header_for_traceid is not a header name');
    }
    if (c.propagation) {
      const pr = c.propagation;
      for (const k of Object.keys(pr))
        if (!['extract', 'clear', 'inject', 'default_format'].includes(k))
          err(where, `unknown propagation field ${k}`);
      for (const f of pr.extract ?? [])
        if (!PROPAGATION_FORMATS.filter((x) => x !== 'b3-single').includes(f))
          err(where, `bad extract format ${f}`);
      for (const f of pr.inject ?? [])
        if (![...PROPAGATION_FORMATS, 'preserve'].includes(f)) err(where, `bad inject format ${f}`);
      if (!PROPAGATION_FORMATS.includes(pr.default_format))
        err(where, 'propagation.default_format is required and must be a format');
    }
    if (c.queue) {
      for (const [k, v] of Object.entries(c.queue)) {
        const range = QUEUE_RANGES[k];
        if (!range) err(where, `unknown queue field ${k}`);
        else if (typeof v !== 'number' || v < range[0] || v > range[1]) err(where, `queue.${k} out of range`);
      }
    }
  };

  if (doc?._format_version !== '3.0') err('root', '_format_version must be "3.0"');
  for (const k of Object.keys(doc ?? {})) {
    if (
      ![
        '_format_version',
        '_transform',
        '_comment',
        '_workspace',
        'services',
        'routes',
        'plugins',
        'consumers',
        'upstreams',
        'certificates',
        'ca_certificates',
        'snis',
        'vaults',
        'keys',
        'key_sets',
      ].includes(k)
    ) {
      err('root', `unknown top-level key ${k}`);
    }
  }
  const names = { service: new Set<string>(), route: new Set<string>() };
  for (const [si, s] of (doc.services ?? []).entries()) {
    const where = `services[${si}] ${s.name}`;
    for (const k of Object.keys(s)) if (!SERVICE_FIELDS.has(k)) err(where, `unknown service field ${k}`);
    if (!utf8NameOk(s.name)) err(where, 'invalid name');
    if (names.service.has(s.name)) err(where, 'duplicate service name');
    names.service.add(s.name);
    if (s.url) checkUrl(where, s.url);
    else if (!s.host) err(where, 'url or host required');
    checkTags(where, s.tags);
    for (const [pi, p] of (s.plugins ?? []).entries()) checkPlugin(`${where}.plugins[${pi}]`, p);
    for (const [ri, r] of (s.routes ?? []).entries()) {
      const rw = `${where}.routes[${ri}] ${r.name}`;
      for (const k of Object.keys(r)) if (!ROUTE_FIELDS.has(k)) err(rw, `unknown route field ${k}`);
      if (!utf8NameOk(r.name)) err(rw, 'invalid name');
      if (names.route.has(r.name)) err(rw, 'duplicate route name');
      names.route.add(r.name);
      if (!(r.methods?.length || r.paths?.length || r.hosts?.length || r.headers))
        err(rw, 'needs methods, hosts, paths or headers');
      for (const m of r.methods ?? []) if (!HTTP_METHODS.includes(m)) err(rw, `bad method ${m}`);
      for (const p of r.paths ?? []) {
        if (typeof p !== 'string') err(rw, 'path must be a string');
        else if (p.startsWith('~')) {
          try {
            new RegExp(p.slice(1));
          } catch {
            err(rw, `regex path does not compile: ${p}`);
          }
          if (!p.startsWith('~/')) err(rw, 'regex paths must start with ~/');
        } else if (!/^\/[\w.\-~/%:@!$&'()*+,;=]*$/.test(p) || p.includes('//')) err(rw, `invalid path ${p}`);
      }
      if (r.strip_path !== undefined && typeof r.strip_path !== 'boolean')
        err(rw, 'strip_path must be boolean');
      checkTags(rw, r.tags);
      for (const [pi, p] of (r.plugins ?? []).entries()) checkPlugin(`${rw}.plugins[${pi}]`, p);
      // a route-scoped plugin may appear once per name
      const pn = (r.plugins ?? []).map((p: Any) => p.name);
      if (new Set(pn).size !== pn.length) err(rw, 'duplicate plugin on route');
    }
  }
  for (const [pi, p] of (doc.plugins ?? []).entries()) checkPlugin(`plugins[${pi}]`, p);
  const consumerNames = new Set<string>();
  const keys = new Set<string>();
  for (const [ci, c] of (doc.consumers ?? []).entries()) {
    const where = `consumers[${ci}] ${c.username}`;
    for (const k of Object.keys(c)) if (!CONSUMER_FIELDS.has(k)) err(where, `unknown consumer field ${k}`);
    if (!c.username && !c.custom_id) err(where, 'at_least_one_of custom_id, username');
    if (consumerNames.has(c.username)) err(where, 'duplicate username');
    consumerNames.add(c.username);
    checkTags(where, c.tags);
    for (const [ki, k] of (c.keyauth_credentials ?? []).entries()) {
      for (const f of Object.keys(k))
        if (!['id', 'key', 'tags', 'ttl'].includes(f))
          err(`${where}.keyauth_credentials[${ki}]`, `unknown field ${f}`);
      if (typeof k.key !== 'string' || !k.key) err(`${where}.keyauth_credentials[${ki}]`, 'key required');
      if (keys.has(k.key)) err(`${where}.keyauth_credentials[${ki}]`, 'key must be unique');
      keys.add(k.key);
      checkTags(`${where}.keyauth_credentials[${ki}]`, k.tags);
    }
    for (const [pi, p] of (c.plugins ?? []).entries()) checkPlugin(`${where}.plugins[${pi}]`, p, 'consumer');
  }
  return errors;
}

const kongYml = join(repoRoot(), 'kong', 'kong.yml');

const telemetryRoute = (doc: Any) =>
  doc.services.flatMap((s: Any) => s.routes).find((r: Any) => r.name === TELEMETRY_ROUTE);

describe('kong/kong.yml', () => {
  const doc = parse(readFileSync(kongYml, 'utf8'));
  const catalog = parse(readFileSync(join(repoRoot(), 'catalog', 'catalog.yaml'), 'utf8'));

  it('is in sync with catalog/catalog.yaml (npm run generate)', () => {
    expect(readFileSync(kongYml, 'utf8')).toBe(stackFiles(repoRoot())['kong/kong.yml']);
  });

  it("passes Kong 3.9's declarative-config rules (transcribed from its schema files)", () => {
    expect(checkKongConfig(doc)).toEqual([]);
  });

  it('the rule check fails on violations', () => {
    const bad = structuredClone(doc);
    bad.services[0].routes[0].tags.push('page:pages/upload/upload');
    bad.services[0].routes[0].plugins[0].config.sampling_rate = 2;
    bad.services[0].routes[0].plugins[0].config.propagation.inject = ['w4c'];
    bad.services[0].routes[0].plugins[0].config.bogus = true;
    const errors = checkKongConfig(bad);
    expect(errors.join('\n')).toMatch(/invalid tag/);
    expect(errors.join('\n')).toMatch(/sampling_rate/);
    expect(errors.join('\n')).toMatch(/bad inject format w4c/);
    expect(errors.join('\n')).toMatch(/unknown opentelemetry config field bogus/);
  });

  it('has one named route per catalog route, split into services by business, tagged with department and page', () => {
    const routes = doc.services
      .flatMap((s: Any) => s.routes.map((r: Any) => ({ ...r, service: s.name })))
      .filter((r: Any) => r.name !== TELEMETRY_ROUTE);
    expect(routes.map((r: Any) => r.name).sort()).toEqual(catalog.routes.map((r: Any) => r.name).sort());
    for (const c of catalog.routes) {
      const r = routes.find((x: Any) => x.name === c.name);
      expect(r.service).toBe(`${c.business}.${c.service}`);
      expect(r.methods).toEqual([c.match.method]);
      expect(r.tags).toContain(`department:${c.department}`);
      expect(r.tags).toContain(`page:${c.page.replaceAll('/', '.')}`);
      // the Kong regex path matches the catalog path with a concrete segment, and not a longer path
      const re = new RegExp(r.paths[0].slice(1));
      const sample = c.match.path.replace(/\{[^}]+\}/g, 'abc123');
      expect(re.test(sample)).toBe(true);
      expect(re.test(`${sample}/extra`)).toBe(false);
      const otel = r.plugins.find((p: Any) => p.name === 'opentelemetry');
      expect(otel.config.resource_attributes).toMatchObject({
        'mp.route_name': c.name,
        'mp.business': c.business,
        'mp.department': c.department,
      });
    }
  });

  it('traces with W3C propagation, follows the client sampling decision, returns the trace id', () => {
    const all = [
      ...doc.plugins,
      ...doc.services.flatMap((s: Any) => s.routes.flatMap((r: Any) => r.plugins)),
    ].filter((p: Any) => p.name === 'opentelemetry');
    // one per catalog route, the global one, and the telemetry route's (which samples nothing: telemetry
    // requests make no gateway spans)
    expect(all.length).toBe(catalog.routes.length + 2);
    const telemetryOtel = all.filter((p: Any) => p.config.sampling_rate === 0);
    expect(telemetryOtel).toEqual([telemetryRoute(doc).plugins.find((p: Any) => p.name === 'opentelemetry')]);
    for (const p of all.filter((x: Any) => x !== telemetryOtel[0])) {
      expect(p.config.propagation).toEqual({ extract: ['w3c'], inject: ['w3c'], default_format: 'w3c' });
      // Kong keeps sampled=0 parents unsampled; rate 1 keeps every sampled parent (Kong's default: 0.01)
      expect(p.config.sampling_rate).toBe(1);
      expect(p.config.http_response_header_for_traceid).toBe('x-trace-id');
      expect(p.config.traces_endpoint).toBe('http://collector:4318/v1/traces');
    }
  });

  it('routes every catalog route to its service and telemetry to the collector, nothing else', () => {
    const cat = parseCatalog(readFileSync(join(repoRoot(), 'catalog', 'catalog.yaml'), 'utf8'));
    for (const r of cat.routes) {
      const svc = cat.services?.find((x) => x.name === r.service);
      if (!svc) continue;
      const path = r.match.path.replace(/\{[^}]+\}/g, 'img-1');
      expect(kongMatches(doc, r.match.method ?? 'GET', path), r.name).toEqual([
        { route: r.name, upstream: svc.url },
      ]);
      expect(kongMatches(doc, r.match.method ?? 'GET', `${path}/x`), r.name).toEqual([]);
    }
    for (const signal of ['traces', 'logs', 'metrics'])
      for (const method of ['POST', 'OPTIONS'])
        expect(kongMatches(doc, method, `/v1/${signal}`)).toEqual([
          { route: TELEMETRY_ROUTE, upstream: TELEMETRY_UPSTREAM },
        ]);
    for (const [method, path] of [
      ['GET', '/v1/traces'],
      ['POST', '/v1/tracesx'],
      ['POST', '/v1/profiles'],
      ['GET', '/upload'],
      ['POST', '/'],
    ])
      expect(kongMatches(doc, method as string, path as string), `${method} ${path}`).toEqual([]);
    // the upstream is the compose collector's OTLP/HTTP port (its config's default endpoint)
    const config = readFileSync(join(repoRoot(), 'collector', 'config.yaml'), 'utf8');
    expect(config).toContain(`MP_OTEL_OTLP_HTTP_ENDPOINT:-0.0.0.0:${new URL(TELEMETRY_UPSTREAM).port}}`);
  });

  it("telemetry needs an app's key: key-auth with the catalog's keys, one consumer per app with its quota", () => {
    const cat = parseCatalog(readFileSync(join(repoRoot(), 'catalog', 'catalog.yaml'), 'utf8'));
    const route = telemetryRoute(doc);
    const auth = route.plugins.find((p: Any) => p.name === 'key-auth');
    expect(auth.config).toMatchObject({
      key_names: [INGEST_KEY_HEADER],
      key_in_query: false,
      hide_credentials: true,
      run_on_preflight: false, // a CORS preflight carries no custom header
    });
    expect(cat.apps?.length).toBeGreaterThan(0);
    expect(doc.consumers.map((c: Any) => c.username).sort()).toEqual(
      (cat.apps ?? []).map((a) => consumerName(a)).sort(),
    );
    for (const app of cat.apps ?? []) {
      const c = doc.consumers.find((x: Any) => x.username === consumerName(app));
      // exactly the catalog's keys: a removed (revoked) key is no credential, and key-auth answers 401
      expect(c.keyauth_credentials.map((k: Any) => k.key).sort()).toEqual(app.keys.map((k) => k.key).sort());
      const q = appQuota(app);
      const rl = c.plugins.find((p: Any) => p.name === 'rate-limiting');
      expect(rl.config).toMatchObject({
        second: Math.max(q.burst, q.requests_per_second),
        minute: q.requests_per_second * 60,
        limit_by: 'consumer',
        policy: 'local',
        error_code: 429,
      });
    }
    // business routes stay open (the mini-program's own API): no key-auth there
    for (const s of doc.services)
      for (const r of s.routes)
        if (r.name !== TELEMETRY_ROUTE)
          expect(
            r.plugins.map((p: Any) => p.name),
            r.name,
          ).not.toContain('key-auth');
  });

  it('per-client-IP limits: one nginx limit_req zone per app, keyed on its keys and the telemetry paths', () => {
    const cat = parseCatalog(readFileSync(join(repoRoot(), 'catalog', 'catalog.yaml'), 'utf8'));
    const files = stackFiles(repoRoot());
    for (const rel of ['kong/nginx-http.conf', 'kong/nginx-proxy.conf'])
      expect(readFileSync(join(repoRoot(), rel), 'utf8'), rel).toBe(files[rel]);
    const http = files['kong/nginx-http.conf'] ?? '';
    const proxy = files['kong/nginx-proxy.conf'] ?? '';
    for (const app of cat.apps ?? []) {
      const q = appQuota(app);
      const zone = `mp_otel_ip_${app.name.replace(/[^A-Za-z0-9]/g, '_')}`;
      expect(http).toContain(`zone=${zone}:10m rate=${q.per_ip_requests_per_second}r/s;`);
      for (const k of app.keys) expect(http).toContain(k.key);
      expect(proxy).toContain(`limit_req zone=${zone} `);
    }
    expect(proxy).toContain('limit_req_status 429;');
    expect(proxy).toMatch(/add_header Retry-After \$mp_otel_retry_after always;/);
    // a key nginx could not quote safely is refused at generation
    const bad = structuredClone(cat);
    (bad.apps ?? [])[0]?.keys.push({ id: 'bad', key: 'a" b' });
    expect(() => renderKongNginxHttp(bad)).toThrow(/must match/);
  });

  it('the rule check knows the consumer, key-auth and rate-limiting schemas', () => {
    const bad = structuredClone(doc);
    bad.consumers[0].plugins[0].config.minute = 1; // lower than second
    bad.consumers[0].plugins[0].config.policy = 'cluster'; // needs a database
    bad.consumers[0].keyauth_credentials.push({ key: bad.consumers[0].keyauth_credentials[0].key });
    bad.consumers[0].plugins.push({ name: 'key-auth', config: {} });
    telemetryRoute(bad).plugins[0].config.key_names = ['x mp'];
    const errors = checkKongConfig(bad).join('\n');
    expect(errors).toMatch(/limit for minute cannot be lower/);
    expect(errors).toMatch(/policy cluster is not available/);
    expect(errors).toMatch(/key must be unique/);
    expect(errors).toMatch(/key-auth cannot be configured on a consumer/);
    expect(errors).toMatch(/bad key name x mp/);
  });
});
