#!/usr/bin/env node
// Generates kong/kong.yml (Kong 3.9 DB-less declarative config) from catalog/catalog.yaml.
//   node kong/generate.mjs          write kong/kong.yml
//   node kong/generate.mjs --check  exit 1 when kong/kong.yml is not what the catalog gives
//
// Layout: one Kong service per (catalog service, business) pair, named `<business>.<service>`, holding that
// business's routes; each route is named after the catalog route and tagged with business, department and
// page. Each route carries its own opentelemetry plugin instance whose resource_attributes name the route
// (Kong's spans only carry the matched *path* in http.route); the collector copies them onto the `kong` span
// as mp.route_name / mp.business / mp.department.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const catalogPath = join(root, 'catalog', 'catalog.yaml');
export const kongYmlPath = join(root, 'kong', 'kong.yml');

/** Reads catalog/catalog.yaml (the storage helper owns its schema; only the fields used here are checked). */
export function loadCatalog(path = catalogPath) {
  const doc = parse(readFileSync(path, 'utf8'));
  if (!doc || !Array.isArray(doc.routes) || !Array.isArray(doc.services)) {
    throw new Error(`${path}: expected routes[] and services[]`);
  }
  for (const r of doc.routes) {
    for (const k of ['name', 'business', 'department', 'page', 'service']) {
      if (typeof r[k] !== 'string' || r[k] === '')
        throw new Error(`catalog route ${r.name ?? '?'}: missing ${k}`);
    }
    if (
      typeof r.match?.method !== 'string' ||
      typeof r.match?.path !== 'string' ||
      !r.match.path.startsWith('/')
    ) {
      throw new Error(`catalog route ${r.name}: match.method and match.path (starting with /) are required`);
    }
    if (!doc.services.some((s) => s.name === r.service))
      throw new Error(`catalog route ${r.name}: unknown service`);
  }
  return doc;
}

const escapeRegex = (s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&');

/**
 * The Kong path for a catalog path. Plain paths become exact regex paths (`~/upload$`) so that `/upload`
 * does not also match `/uploads`; `{param}` segments become `[^/]+`.
 */
export function kongPath(path) {
  const body = path
    .split('/')
    .map((seg) => (/^\{[^}]+\}$/.test(seg) ? '[^/]+' : escapeRegex(seg)))
    .join('/');
  return `~${body}$`;
}

/** Kong tags may not contain ',' or '/' (typedefs.tag): pages use '.' instead of '/'. */
export const kongTag = (key, value) => `${key}:${String(value).replace(/[/,]/g, '.')}`;

/** Environment-driven endpoint: Kong's declarative config supports no env interpolation, so compose sets it. */
const TRACES_ENDPOINT = 'http://collector:4318/v1/traces';
const TRACE_ID_HEADER = 'x-trace-id';

function otelPlugin(extra) {
  return {
    name: 'opentelemetry',
    config: {
      traces_endpoint: TRACES_ENDPOINT,
      resource_attributes: { 'service.name': 'kong', ...extra },
      // Follow the client: a parent with sampled=0 is never sampled (Kong honours that itself); with rate 1
      // every request whose parent is sampled (or that has no parent) is sampled, so the mini-program's head
      // decision is the one that counts. The collector's tail sampling bounds the rest.
      sampling_rate: 1,
      propagation: {
        extract: ['w3c'],
        inject: ['w3c'],
        default_format: 'w3c',
      },
      http_response_header_for_traceid: TRACE_ID_HEADER,
      queue: { max_batch_size: 200, max_coalescing_delay: 1 },
    },
    tags: ['mp-otel'],
  };
}

export function buildKongConfig(catalog) {
  const services = [];
  const byKey = new Map();
  for (const route of catalog.routes) {
    const svc = catalog.services.find((s) => s.name === route.service);
    const key = `${route.business}.${route.service}`;
    let entry = byKey.get(key);
    if (!entry) {
      entry = {
        name: key,
        url: svc.url,
        tags: ['mp-otel', kongTag('business', route.business), kongTag('service', route.service)],
        routes: [],
      };
      byKey.set(key, entry);
      services.push(entry);
    }
    entry.routes.push({
      name: route.name,
      methods: [route.match.method.toUpperCase()],
      paths: [kongPath(route.match.path)],
      strip_path: false,
      preserve_host: false,
      tags: [
        'mp-otel',
        kongTag('business', route.business),
        kongTag('department', route.department),
        kongTag('page', route.page),
      ],
      plugins: [
        otelPlugin({
          'mp.route_name': route.name,
          'mp.business': route.business,
          'mp.department': route.department,
        }),
      ],
    });
  }
  return {
    _format_version: '3.0',
    _transform: true,
    services,
    // Requests that match no catalog route are still traced (global instance; route instances take precedence).
    plugins: [otelPlugin({})],
  };
}

export function renderKongYml(catalog = loadCatalog()) {
  const header =
    '# GENERATED by kong/generate.mjs from catalog/catalog.yaml — do not edit; run `node kong/generate.mjs`.\n' +
    '# Kong 3.9 DB-less declarative configuration (KONG_DATABASE=off, KONG_DECLARATIVE_CONFIG=/kong/kong.yml).\n' +
    '# Needs KONG_TRACING_INSTRUMENTATIONS=request and KONG_TRACING_SAMPLING_RATE=1.0 (see docker-compose.yml).\n';
  return header + stringify(buildKongConfig(catalog), { lineWidth: 0 });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = renderKongYml();
  if (process.argv.includes('--check')) {
    const current = readFileSync(kongYmlPath, 'utf8');
    if (current !== text) {
      process.stderr.write('kong/kong.yml is out of date: run `node kong/generate.mjs`\n');
      process.exit(1);
    }
  } else {
    writeFileSync(kongYmlPath, text);
    process.stderr.write(`wrote ${kongYmlPath}\n`);
  }
}
