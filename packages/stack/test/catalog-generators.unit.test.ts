// Every generator accepts every catalog the schema accepts: one catalog using every optional field (and
// odd-but-valid values: Chinese labels, quotes, regex metacharacters in paths, several parameters, method
// '*', a route with no service) and one using none go through the Kong, collector and Grafana generators
// and the store's route rows, and each output is checked for what it must contain.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Catalog, parseCatalog, routeRegex, routeRows } from '@mp-otel/contracts';
import { repoRoot } from '@mp-otel/devkit';
import { alertRules, generatedFiles } from '@mp-otel/grafana';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderConfig } from '../src/collector-config.js';
import { buildKongConfig, renderKongYml, TELEMETRY_ROUTE } from '../src/kong.js';
import { checkKongConfig } from './kong-rules.js';

const EVERY_FIELD = `
version: 1
apps:
  - name: shop-miniprogram
    app_id: wx0123456789abcdef
    keys:
      - { id: k-2026.1, key: mpk_0123456789abcdef }
      - { id: k_old, key: ${'A'.repeat(128)} }
    quota: { requests_per_second: 0.5, burst: 1, per_ip_requests_per_second: 0.1 }
    hosts: [api.shop.example.com, "127.0.0.1:8080"]
  - name: h5
    keys: [{ id: h5, key: h5_key_0123456789 }]
services:
  - { name: shop.api-v2_x, url: "https://shop.internal:8443/base" }
  - { name: unused, url: "http://unused" }
routes:
  - name: order.pay_v2-x
    business: "商城 'shop' \\"quoted\\""
    department: "支付/payments, 团队"
    page: "pages/order/pay"
    service: shop.api-v2_x
    match:
      method: "*"
      path: "/v2/orders/{orderId}/items/{itemId}/receipt.json"
      client_url: "https://api.shop.example.com/v2/orders/{orderId}/items/{itemId}/receipt.json"
    slo: { availability: 1, latency_ms: 1 }
  - name: search
    business: shop
    department: search
    service: shop.api-v2_x
    match: { method: OPTIONS, path: "/search(beta)/a+b" }
    slo: { availability: 0.0001, latency_ms: 86400000 }
  - name: third.party
    business: shop
    department: partners
    match: { path: "/pay" }
    slo: { availability: 0.9, latency_ms: 500 }
`;

const NO_OPTIONAL_FIELD = `
version: 1
routes:
  - name: a
    business: b
    department: c
    match: { path: / }
    slo: { availability: 0.99, latency_ms: 100 }
`;

it('a parameter inside a segment is refused by the schema, not misread by a generator', () => {
  expect(() => parseCatalog(NO_OPTIONAL_FIELD.replace('path: /', 'path: /items/{id}.json'))).toThrow(/path/);
});

const template = readFileSync(join(repoRoot(), 'collector', 'config.template.yaml'), 'utf8');

describe.each([
  ['every optional field', EVERY_FIELD],
  ['no optional field', NO_OPTIONAL_FIELD],
])('a catalog with %s', (_label, text) => {
  const catalog: Catalog = parseCatalog(text);

  it("Kong: passes Kong 3.9's rules; one route per proxied catalog route (+ telemetry when apps have keys), each path an anchored regex matching a concrete request", () => {
    const doc = parse(renderKongYml(catalog));
    expect(doc).toEqual(JSON.parse(JSON.stringify(buildKongConfig(catalog))));
    expect(checkKongConfig(doc)).toEqual([]);
    const routes = doc.services.flatMap((s: { routes: { name: string; paths: string[] }[] }) => s.routes);
    const proxied = catalog.routes.filter((r) => r.service);
    const expected = [...proxied.map((r) => r.name), ...(catalog.apps?.length ? [TELEMETRY_ROUTE] : [])];
    expect(routes.map((r: { name: string }) => r.name).sort()).toEqual(expected.sort());
    for (const r of proxied) {
      const kong = routes.find((k: { name: string }) => k.name === r.name);
      const rx = new RegExp(`^${kong.paths[0].slice(1)}`);
      const concrete = r.match.path.replace(/\{[^}]+\}/g, 'x1');
      expect(rx.test(concrete), `${kong.paths[0]} ~ ${concrete}`).toBe(true);
      expect(rx.test(`${concrete}/more`)).toBe(false);
      for (const s of doc.services) for (const t of s.tags) expect(t).toMatch(/^[\x21-\x7e\u0080-\uffff]+$/);
    }
  });

  it('collector: valid YAML with one route statement and one slow policy per route', () => {
    const config = parse(renderConfig(catalog, template));
    const text = JSON.stringify(config);
    for (const r of catalog.routes) {
      expect(text).toContain(`set(span.attributes[\\"mp.route_name\\"], \\"${r.name}\\")`);
      expect(text).toContain(`slow-${r.name}`);
    }
  });

  it('Grafana: dashboards and alert rules for every route, all files parse', () => {
    const files = generatedFiles(catalog);
    for (const [name, content] of Object.entries(files)) {
      if (name.endsWith('.json')) expect(() => JSON.parse(content), name).not.toThrow();
      else expect(() => parse(content), name).not.toThrow();
    }
    const rules = alertRules(catalog);
    for (const r of catalog.routes)
      expect(
        rules.some((a) => a.title.includes(r.name)),
        r.name,
      ).toBe(true);
  });

  it('store: route rows whose regex matches the route as clients, Kong and backends spell it', () => {
    const rows = routeRows(catalog);
    expect(rows.map((r) => r.name)).toEqual(catalog.routes.map((r) => r.name));
    for (const r of catalog.routes) {
      const rx = new RegExp(routeRegex(r));
      const concrete = r.match.path.replace(/\{[^}]+\}/g, 'x1');
      const method = r.match.method && r.match.method !== '*' ? r.match.method : 'GET';
      expect(rx.test(`${method} ${concrete}`), `${rx} ~ ${method} ${concrete}`).toBe(true);
    }
  });
});
