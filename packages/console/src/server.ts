// The console's HTTP server: the single-page app (one HTML page, one bundled script and stylesheet, nothing
// from a CDN) and its read-only JSON API. Only GET/HEAD; the Host header must name this server (DNS
// rebinding) and a cross-origin request is refused (Origin / Sec-Fetch-Site), like the SQL endpoint.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Catalog } from '@mp-otel/contracts';
import type { ChdbStore } from '@mp-otel/store';
import { Dashboards } from './dashboards.js';
import { Explorer } from './explore.js';
import { HttpError } from './http-error.js';
import { IncidentWatcher } from './incidents.js';
import { StoreReader } from './store-client.js';

export interface ConsoleOptions {
  /** the embedded store's chDB session (queries run in-process, read-only) */
  store: ChdbStore;
  database: string;
  catalog: Catalog;
  /** default 3000; 0 = any free port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** how often the alert rules are evaluated (default 60 s, Grafana's rule group interval) */
  alertIntervalMs?: number;
  /** evaluate alerts on a schedule (default true) */
  alerts?: boolean;
}

export interface ConsoleServer {
  url: string;
  port: number;
  incidents: IncidentWatcher;
  close(): Promise<void>;
}

const PUBLIC = new URL('./public/', import.meta.url);
const asset = (name: string) => readFileSync(new URL(name, PUBLIC));

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

function page(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mp-otel console</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app"></div>
<script src="/assets/app.js"></script>
</body>
</html>
`;
}

/** Hosts this server answers to: loopback names, and the bound address when it is another one. */
function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]']);
  if (host !== '0.0.0.0' && host !== '::') names.add(host.includes(':') ? `[${host}]` : host);
  return new Set([...names].map((n) => `${n}:${port}`));
}

export async function startConsole(o: ConsoleOptions): Promise<ConsoleServer> {
  const reader = new StoreReader(o.store, o.database);
  const dashboards = new Dashboards(o.catalog, reader);
  const explorer = new Explorer(reader);
  const incidents = new IncidentWatcher(o.catalog, reader, o.alertIntervalMs ?? 60_000);
  const host = o.host ?? '127.0.0.1';
  let hosts = new Set<string>();
  const files = {
    js: asset('app.js'),
    css: asset('app.css'),
    html: Buffer.from(page()),
  };

  const api = async (path: string, q: URLSearchParams): Promise<unknown> => {
    if (path === '/api/meta')
      return {
        dashboards: dashboards.list.map((d) => ({
          uid: d.uid,
          title: d.title,
          description: d.description,
          tags: d.tags,
        })),
        routes: o.catalog.routes.map((r) => r.name),
        database: o.database,
      };
    const match = (re: RegExp) => re.exec(path) ?? undefined;
    const dash = match(
      /^\/api\/dashboards\/([\w-]{1,64})(?:\/(variables|annotations)|\/panels\/(\d{1,4}))?$/,
    );
    if (dash?.[3]) return dashboards.panel(dash[1]!, Number(dash[3]), q);
    if (dash?.[2] === 'variables') return dashboards.variableOptions(dash[1]!, q);
    if (dash?.[2] === 'annotations') return dashboards.annotations(dash[1]!, q);
    if (dash) return dashboards.get(dash[1]!);
    if (path === '/api/traces') return explorer.traces(q);
    const one = match(/^\/api\/traces\/([^/]{1,1024})$/);
    if (one) return explorer.trace(one[1]!);
    if (path === '/api/logs') return explorer.logs(q);
    if (path === '/api/exceptions') return explorer.exceptions(q);
    if (path === '/api/exemplars') return explorer.exemplars(q);
    if (path === '/api/incidents') return incidents.snapshot();
    throw new HttpError(404, `no API ${path.slice(0, 80)}`);
  };

  const server = http.createServer((req, res) => {
    const send = (
      status: number,
      body: string | Buffer,
      type: string,
      extra: Record<string, string> = {},
    ) => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        ...SECURITY_HEADERS,
        ...extra,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const fail = (status: number, message: string) =>
      send(status, JSON.stringify({ error: message }), 'application/json; charset=utf-8');
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    if (!hosts.has(hostHeader))
      return fail(
        403,
        `Host ${JSON.stringify(hostHeader.slice(0, 80))} is not this console (DNS rebinding is refused)`,
      );
    const origin = req.headers.origin;
    if (origin !== undefined && !(origin.startsWith('http://') && hosts.has(origin.slice(7).toLowerCase())))
      return fail(403, 'cross-origin requests are refused');
    if (req.headers['sec-fetch-site'] === 'cross-site') return fail(403, 'cross-site requests are refused');
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'the console is read-only: GET only');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://console');
    } catch {
      return fail(400, 'bad URL');
    }
    if ((req.url ?? '').length > 8192) return fail(414, 'URL longer than 8 KiB');
    const path = url.pathname;
    if (path === '/assets/app.js') return send(200, files.js, 'text/javascript; charset=utf-8');
    if (path === '/assets/app.css') return send(200, files.css, 'text/css; charset=utf-8');
    const report = /^\/api\/incidents\/(\d{1,6})\/report$/.exec(path);
    if (report) {
      const id = Number(report[1]);
      const inc = incidents.get(id);
      if (!inc) return fail(404, `no incident ${id}`);
      incidents
        .report(inc)
        .then((html) =>
          send(200, html, 'text/html; charset=utf-8', {
            'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
          }),
        )
        .catch((e: Error) => fail(502, `report failed: ${e.message}`));
      return;
    }
    if (path.startsWith('/api/')) {
      api(path, url.searchParams)
        .then((body) => send(200, JSON.stringify(body), 'application/json; charset=utf-8'))
        .catch((e: unknown) => {
          if (e instanceof HttpError) fail(e.status, e.message);
          else fail(502, `query failed: ${(e as Error).message}`);
        });
      return;
    }
    if (path === '/favicon.ico') return send(204, '', 'image/x-icon');
    return send(200, files.html, 'text/html; charset=utf-8');
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 3000, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(host, port);
  if (o.alerts !== false) incidents.start();
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    incidents,
    close: async () => {
      await incidents.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
