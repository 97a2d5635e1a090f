// kong/kong.yml: in sync with the catalog, and checked against Kong 3.9's declarative-config rules as far
// as is possible without Kong. The rules below are transcribed field by field from Kong 3.9.3's schema
// files (kong/db/schema/entities/{services,routes,plugins}.lua, kong/db/schema/typedefs.lua,
// kong/plugins/opentelemetry/schema.lua, kong/observability/tracing/propagation/schema.lua,
// kong/tools/queue_schema.lua). Not checked: Kong's router compiling the regex paths with PCRE, the
// plugin's runtime behaviour (nothing here runs Kong).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@mp-otel/devkit';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { stackFiles } from '../src/generate.js';

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
  const checkPlugin = (where: string, p: Any) => {
    for (const k of Object.keys(p)) if (!PLUGIN_FIELDS.has(k)) err(where, `unknown plugin field ${k}`);
    checkTags(where, p.tags);
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
  return errors;
}

const kongYml = join(repoRoot(), 'kong', 'kong.yml');

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
    const routes = doc.services.flatMap((s: Any) => s.routes.map((r: Any) => ({ ...r, service: s.name })));
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
    expect(all.length).toBe(catalog.routes.length + 1);
    for (const p of all) {
      expect(p.config.propagation).toEqual({ extract: ['w3c'], inject: ['w3c'], default_format: 'w3c' });
      // Kong keeps sampled=0 parents unsampled; rate 1 keeps every sampled parent (Kong's default: 0.01)
      expect(p.config.sampling_rate).toBe(1);
      expect(p.config.http_response_header_for_traceid).toBe('x-trace-id');
      expect(p.config.traces_endpoint).toBe('http://collector:4318/v1/traces');
    }
  });
});
