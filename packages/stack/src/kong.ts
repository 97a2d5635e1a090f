// kong/kong.yml (Kong 3.9 DB-less declarative config) from the catalog (written by generate.ts).
//
// Layout: one Kong service per (catalog service, business) pair, named `<business>.<service>`, holding that
// business's routes; each route is named after the catalog route and tagged with business, department and
// page. Each route carries its own opentelemetry plugin instance whose resource_attributes name the route
// (Kong's spans only carry the matched *path* in http.route); the collector copies them onto the `kong` span
// as mp.route_name / mp.business / mp.department. A route without a service is not proxied by Kong (the
// mini-program calls a third party directly): it still labels client spans, but has no Kong route.

import { type Catalog, type CatalogApp, type CatalogRoute, INGEST_KEY_HEADER } from '@mp-otel/contracts';
import {
  ATTR_MP_BUSINESS,
  ATTR_MP_DEPARTMENT,
  ATTR_MP_ROUTE_NAME,
  ATTR_SERVICE_NAME,
  GATEWAY_SPAN_NAME,
} from '@mp-otel/contracts/names';
import { stringify } from 'yaml';

const escapeRegex = (s: string): string => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&');

/**
 * The Kong path for a catalog path. Plain paths become exact regex paths (`~/upload$`) so that `/upload`
 * does not also match `/uploads`; `{param}` segments become `[^/]+`.
 */
export function kongPath(path: string): string {
  const body = path
    .split('/')
    .map((seg) => (/^\{[^}]+\}$/.test(seg) ? '[^/]+' : escapeRegex(seg)))
    .join('/');
  return `~${body}$`;
}

/** Kong tags are printable with no ',', '/' or whitespace (typedefs.tag): '/' and ',' become '.', spaces '_'. */
export const kongTag = (key: string, value: string): string =>
  `${key}:${String(value)
    .replace(/[/,]/g, '.')
    .replace(/[\s\p{Cc}]+/gu, '_')}`;

/** Environment-driven endpoint: Kong's declarative config supports no env interpolation, so compose sets it. */
const TRACES_ENDPOINT = 'http://collector:4318/v1/traces';
const TRACE_ID_HEADER = 'x-trace-id';

function otelPlugin(extra: Record<string, string>) {
  return {
    name: 'opentelemetry',
    config: {
      traces_endpoint: TRACES_ENDPOINT,
      resource_attributes: { [ATTR_SERVICE_NAME]: GATEWAY_SPAN_NAME, ...extra },
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

/** Kong names (services, routes) allow letters, digits and `._~-`: anything else becomes `-`. */
const kongName = (s: string): string => s.replace(/[^\p{L}\p{N}._~-]/gu, '-');

interface KongService {
  name: string;
  url: string;
  tags: string[];
  routes: Record<string, unknown>[];
}

/** Where telemetry goes behind Kong (the collector's OTLP/HTTP port, not published by compose). */
export const TELEMETRY_UPSTREAM = 'http://collector:4318';
/** The OTLP/HTTP paths Kong accepts telemetry on (exact). */
export const TELEMETRY_PATH = '~/v1/(traces|logs|metrics)$';
export const TELEMETRY_ROUTE = 'telemetry';
/** The Kong consumer of a catalog app. */
export const consumerName = (app: CatalogApp): string => kongName(`app.${app.name}`);

/** Defaults when an app declares no quota (requests per second per app, burst, per client IP). */
export const DEFAULT_QUOTA = { requests_per_second: 100, burst: 200, per_ip_requests_per_second: 5 };

export function appQuota(app: CatalogApp) {
  return { ...DEFAULT_QUOTA, ...(app.quota ?? {}) };
}

/**
 * Telemetry enters through Kong: one route for the OTLP/HTTP paths, key-auth with the catalog's app keys
 * (header x-mp-otel-key; unknown or missing key → 401; a CORS preflight passes without a key), one consumer
 * per app carrying its keys and its per-app rate limit (429 with Retry-After). Kong runs one instance of a
 * plugin per request, so the per-client-IP limit cannot be a second rate-limiting instance: it is nginx's
 * limit_req, injected into Kong's proxy server (see renderKongNginxHttp / renderKongNginxProxy).
 * The route's own opentelemetry instance samples nothing: telemetry requests do not make gateway spans.
 */
function telemetryService() {
  return {
    name: 'mp-otel.telemetry',
    url: TELEMETRY_UPSTREAM,
    tags: ['mp-otel', 'telemetry'],
    routes: [
      {
        name: TELEMETRY_ROUTE,
        methods: ['POST', 'OPTIONS'],
        paths: [TELEMETRY_PATH],
        strip_path: false,
        preserve_host: false,
        tags: ['mp-otel', 'telemetry'],
        plugins: [
          {
            name: 'key-auth',
            config: {
              key_names: [INGEST_KEY_HEADER],
              key_in_header: true,
              key_in_query: false,
              key_in_body: false,
              hide_credentials: true,
              run_on_preflight: false,
            },
            tags: ['mp-otel'],
          },
          { ...otelPlugin({}), config: { ...otelPlugin({}).config, sampling_rate: 0 } },
        ],
      },
    ],
  };
}

function consumers(catalog: Catalog) {
  return (catalog.apps ?? []).map((app) => {
    const q = appQuota(app);
    return {
      username: consumerName(app),
      custom_id: app.name,
      tags: ['mp-otel', kongTag('app', app.name)],
      keyauth_credentials: app.keys.map((k) => ({ key: k.key, tags: ['mp-otel', kongTag('key', k.id)] })),
      plugins: [
        {
          name: 'rate-limiting',
          // Kong OSS counts fixed windows: `second` admits the burst within any one second, `minute` holds
          // the sustained rate to requests_per_second.
          config: {
            second: Math.max(q.burst, q.requests_per_second),
            minute: q.requests_per_second * 60,
            limit_by: 'consumer',
            policy: 'local',
            error_code: 429,
            error_message: `telemetry quota of app ${app.name} exceeded: retry after the Retry-After seconds`,
            hide_client_headers: false,
          },
          tags: ['mp-otel'],
        },
      ],
    };
  });
}

export function buildKongConfig(catalog: Catalog) {
  const services: KongService[] = [];
  const byKey = new Map<string, KongService>();
  for (const route of catalog.routes as CatalogRoute[]) {
    const svc = route.service ? catalog.services?.find((s) => s.name === route.service) : undefined;
    if (!svc) continue; // not behind Kong
    const key = kongName(`${route.business}.${svc.name}`);
    let entry = byKey.get(key);
    if (!entry) {
      entry = {
        name: key,
        url: svc.url,
        tags: ['mp-otel', kongTag('business', route.business), kongTag('service', svc.name)],
        routes: [],
      };
      byKey.set(key, entry);
      services.push(entry);
    }
    const method = (route.match.method ?? '*').toUpperCase();
    entry.routes.push({
      name: route.name,
      ...(method === '*' ? {} : { methods: [method] }),
      paths: [kongPath(route.match.path)],
      strip_path: false,
      preserve_host: false,
      tags: [
        'mp-otel',
        kongTag('business', route.business),
        kongTag('department', route.department),
        ...(route.page ? [kongTag('page', route.page)] : []),
      ],
      plugins: [
        otelPlugin({
          [ATTR_MP_ROUTE_NAME]: route.name,
          [ATTR_MP_BUSINESS]: route.business,
          [ATTR_MP_DEPARTMENT]: route.department,
        }),
      ],
    });
  }
  return {
    _format_version: '3.0',
    _transform: true,
    // telemetry is accepted only for apps with keys: no app in the catalog, no telemetry route
    services: [...services, ...((catalog.apps ?? []).length ? [telemetryService()] : [])],
    consumers: consumers(catalog),
    // Requests that match no catalog route are still traced (global instance; route instances take precedence).
    plugins: [otelPlugin({})],
  };
}

export function renderKongYml(catalog: Catalog): string {
  const header =
    '# GENERATED by @mp-otel/stack from catalog/catalog.yaml — do not edit; run `npm run generate`.\n' +
    '# Kong 3.9 DB-less declarative configuration (KONG_DATABASE=off, KONG_DECLARATIVE_CONFIG=/kong/kong.yml).\n' +
    '# Needs KONG_TRACING_INSTRUMENTATIONS=request and KONG_TRACING_SAMPLING_RATE=1.0 (see docker-compose.yml).\n';
  return header + stringify(buildKongConfig(catalog), { lineWidth: 0 });
}

// ------------------------------------------------------------------ per-client-IP limit (nginx limit_req)

const SAFE_KEY = /^[A-Za-z0-9._~-]+$/;
const zoneName = (app: CatalogApp): string => `mp_otel_ip_${app.name.replace(/[^A-Za-z0-9]/g, '_')}`;

/**
 * Injected into Kong's nginx `http` block (KONG_NGINX_HTTP_INCLUDE): per app, a limit_req zone keyed by the
 * client address — only for telemetry paths carrying one of the app's keys (an empty key is not counted by
 * nginx, so business traffic and other apps are never limited by it) — and the Retry-After value for
 * requests limit_req rejected.
 */
export function renderKongNginxHttp(catalog: Catalog): string {
  const lines = [
    '# GENERATED by @mp-otel/stack from catalog/catalog.yaml — do not edit; run `npm run generate`.',
    '# Included in the http block of Kong 3.9 (KONG_NGINX_HTTP_INCLUDE, see docker-compose.yml): per-app limits',
    "# of telemetry requests per client IP (the apps' quota.per_ip_requests_per_second).",
  ];
  for (const app of catalog.apps ?? []) {
    for (const k of app.keys)
      if (!SAFE_KEY.test(k.key)) throw new Error(`app ${app.name}: key ${k.id} must match ${SAFE_KEY}`);
    const keys = app.keys.map((k) => k.key.replace(/[.~-]/g, '\\$&')).join('|');
    const zone = zoneName(app);
    const q = appQuota(app);
    lines.push(
      `map "$uri $http_${INGEST_KEY_HEADER.replace(/-/g, '_')}" $${zone} {`,
      `    "~^/v1/(traces|logs|metrics) (${keys})$" $binary_remote_addr;`,
      '    default "";',
      '}',
      `limit_req_zone $${zone} zone=${zone}:10m rate=${q.per_ip_requests_per_second}r/s;`,
    );
  }
  lines.push('map $limit_req_status $mp_otel_retry_after {', '    REJECTED 1;', '    default "";', '}');
  return `${lines.join('\n')}\n`;
}

/** Injected into Kong's proxy `server` block (KONG_NGINX_PROXY_INCLUDE): the limits of renderKongNginxHttp. */
export function renderKongNginxProxy(catalog: Catalog): string {
  const lines = [
    '# GENERATED by @mp-otel/stack from catalog/catalog.yaml — do not edit; run `npm run generate`.',
    '# Included in the proxy server block of Kong 3.9 (KONG_NGINX_PROXY_INCLUDE, see docker-compose.yml).',
  ];
  for (const app of catalog.apps ?? []) {
    const q = appQuota(app);
    const burst = Math.max(1, q.per_ip_requests_per_second * 2);
    lines.push(`limit_req zone=${zoneName(app)} burst=${burst} nodelay;`);
  }
  lines.push('limit_req_status 429;', 'add_header Retry-After $mp_otel_retry_after always;');
  return `${lines.join('\n')}\n`;
}
