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
import { type Any, checkKongConfig } from './kong-rules.js';

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
