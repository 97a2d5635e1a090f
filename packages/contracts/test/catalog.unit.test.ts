import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCatalog, parseCatalog, routeRegex, routeRows } from '../src/index.js';

const CATALOG = fileURLToPath(new URL('../../../catalog/catalog.yaml', import.meta.url));

describe('catalog', () => {
  it('the shipped catalog is valid and has the image routes', () => {
    const cat = loadCatalog(CATALOG);
    const names = cat.routes.map((r) => r.name);
    expect(names).toContain('upload.image');
    expect(names).toContain('download.image');
    for (const r of routeRows(cat)) expect(() => new RegExp(r.match_regex)).not.toThrow();
  });

  it('route regexes match client URLs, Kong paths and backend templates', () => {
    const cat = loadCatalog(CATALOG);
    const rx = (name: string) => new RegExp(routeRegex(cat.routes.find((r) => r.name === name) as never));
    const up = rx('upload.image');
    expect(up.test('POST /upload')).toBe(true);
    expect(up.test('POST /api/v1/upload')).toBe(true);
    expect(up.test('GET /upload')).toBe(false);
    expect(up.test('POST /upload/extra')).toBe(false);
    const down = rx('download.image');
    expect(down.test('GET /images/abc123')).toBe(true);
    expect(down.test('GET /images/:id')).toBe(true);
    expect(down.test('GET /images/{id}')).toBe(true);
    expect(down.test('GET /images')).toBe(false);
    expect(down.test('GET /images/a/b')).toBe(false);
  });

  it('rejects invalid catalogs with a message naming the problem', () => {
    expect(() => parseCatalog('version: 1\nroutes: []\n')).toThrow(/routes/);
    expect(() =>
      parseCatalog(
        'version: 1\nroutes:\n  - name: a\n    business: b\n    department: c\n    match: { method: POST, path: upload }\n    slo: { availability: 0.99, latency_ms: 10 }\n',
      ),
    ).toThrow(/path/);
    expect(() =>
      parseCatalog(
        'version: 1\nroutes:\n  - name: a\n    business: b\n    department: c\n    match: { path: /x }\n    slo: { availability: 2, latency_ms: 10 }\n',
      ),
    ).toThrow(/availability/);
    const dup =
      'version: 1\nroutes:\n' +
      '  - { name: a, business: b, department: c, match: { path: /x }, slo: { availability: 0.9, latency_ms: 1 } }\n'.repeat(
        2,
      );
    expect(() => parseCatalog(dup)).toThrow(/duplicate/);
    expect(() => parseCatalog('version: [')).toThrow(/YAML/);
  });

  it('client_url adds a client path alternative', () => {
    const r = {
      name: 'x',
      business: 'b',
      department: 'd',
      match: { method: 'GET', path: '/v2/items/{id}', client_url: 'https://api.example.com/items/{id}?q=1' },
      slo: { availability: 0.99, latency_ms: 100 },
    };
    const re = new RegExp(routeRegex(r));
    expect(re.test('GET /items/7')).toBe(true);
    expect(re.test('GET /v2/items/7')).toBe(true);
  });
});
