// The compose rehearsal's tools: what `docker compose up` would do, done on this machine without Docker.
//   - dockerfileSteps: the WORKDIR / COPY / RUN / ENV / USER steps of a Dockerfile, in order;
//   - dockerignored: whether .dockerignore keeps a path out of the build context (Docker's matcher rules
//     for the patterns this repository uses: `*`, `?`, `**`, a leading `/`, `!` exceptions);
//   - kongMatches / startKongStandIn: Kong's routing of kong.yml (regex paths anchored at the start, methods),
//     its key-auth (the consumers' credentials, header only, preflights pass when run_on_preflight is false,
//     the key removed upstream when hide_credentials) and the X-Real-IP / X-Forwarded-For headers Kong sets
//     from the socket — a stand-in, since Kong itself cannot run here;
//   - serviceAddresses: compose service host:port → loopback address, applied to environments and commands.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Any = any;

export interface DockerfileStep {
  instruction:
    | 'FROM'
    | 'WORKDIR'
    | 'COPY'
    | 'RUN'
    | 'ENV'
    | 'USER'
    | 'EXPOSE'
    | 'CMD'
    | 'ENTRYPOINT'
    | 'OTHER';
  args: string;
}

/** The instructions of a Dockerfile (continuation lines joined, comments dropped). */
export function dockerfileSteps(text: string): DockerfileStep[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const steps: DockerfileStep[] = [];
  for (const line of joined.split('\n')) {
    const m = line.trim().match(/^([A-Za-z]+)\s+(.*)$/);
    if (!m) continue;
    const ins = (m[1] ?? '').toUpperCase();
    const known = ['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'EXPOSE', 'CMD', 'ENTRYPOINT'];
    steps.push({
      instruction: (known.includes(ins) ? ins : 'OTHER') as DockerfileStep['instruction'],
      args: (m[2] ?? '').replace(/\s+/g, ' ').trim(),
    });
  }
  return steps;
}

function globToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories (also none), a trailing `**` everything
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(?:/.*)?$`);
}

/** Whether a path (relative to the context root, `/`-separated) is excluded by the .dockerignore text. */
export function dockerignored(dockerignore: string, path: string): boolean {
  let excluded = false;
  for (const raw of dockerignore.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
    if (globToRegex(pattern).test(path)) excluded = !negate;
  }
  return excluded;
}

/**
 * Which route and upstream Kong's router picks for a request, for this config's shapes (Kong 3.9,
 * router_flavor traditional_compatible): a route matches when its methods (if any) include the method and
 * one of its paths matches — a `~` path is a regex anchored at the start of the path, a plain path a
 * prefix. Returns every match: the config is unambiguous when there is at most one.
 */
export function kongMatches(doc: Any, method: string, path: string) {
  const out: { route: string; upstream: string; plugins: Any[] }[] = [];
  for (const s of doc.services ?? [])
    for (const r of s.routes ?? []) {
      if (r.methods && !r.methods.includes(method)) continue;
      const hit = (r.paths ?? []).some((p: string) =>
        p.startsWith('~') ? new RegExp(`^(?:${p.slice(1)})`).test(path) : path.startsWith(p),
      );
      if (hit) out.push({ route: r.name, upstream: s.url, plugins: r.plugins ?? [] });
    }
  return out.map(({ route, upstream }) => ({ route, upstream }));
}

function routeOf(doc: Any, method: string, path: string) {
  for (const s of doc.services ?? [])
    for (const r of s.routes ?? []) {
      if (r.methods && !r.methods.includes(method)) continue;
      const hit = (r.paths ?? []).some((p: string) =>
        p.startsWith('~') ? new RegExp(`^(?:${p.slice(1)})`).test(path) : path.startsWith(p),
      );
      if (hit) return { route: r, service: s };
    }
  return undefined;
}

/** Rewrites compose service addresses (`http://collector:4318`, `clickhouse:8123`) to loopback addresses. */
export function serviceAddresses(map: Record<string, string>) {
  const apply = (s: string): string =>
    Object.entries(map).reduce((acc, [from, to]) => acc.split(from).join(to), s);
  return {
    apply,
    env: (env: Record<string, string>): Record<string, string> =>
      Object.fromEntries(Object.entries(env).map(([k, v]) => [k, apply(String(v))])),
  };
}

export interface KongStandIn {
  url: string;
  /** requests answered, by route name ('' = no route) and status */
  log: { method: string; path: string; route: string; status: number; consumer?: string }[];
  close(): Promise<void>;
}

/**
 * Serves kong.yml on loopback as Kong would route it: no route → 404, key-auth → 401 without a known key,
 * upstream requests carry X-Real-IP (the socket address, whatever the client sent) and X-Forwarded-For.
 * Upstream URLs go through `address` (compose service names → loopback).
 */
export async function startKongStandIn(doc: Any, address: (url: string) => string): Promise<KongStandIn> {
  const credentials = new Map<string, string>();
  for (const c of doc.consumers ?? [])
    for (const k of c.keyauth_credentials ?? []) credentials.set(k.key, c.username);
  const log: KongStandIn['log'] = [];
  const answer = (req: IncomingMessage, res: Any, status: number, message: string, route = '') => {
    log.push({ method: req.method ?? '', path: req.url ?? '', route, status });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ message }));
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://kong');
    const hit = routeOf(doc, req.method ?? 'GET', url.pathname);
    if (!hit) return answer(req, res, 404, 'no Route matched with those values');
    const headers: Record<string, string | string[] | undefined> = { ...req.headers };
    let consumer: string | undefined;
    const keyAuth = (hit.route.plugins ?? []).find((p: Any) => p.name === 'key-auth');
    if (keyAuth && !(req.method === 'OPTIONS' && keyAuth.config?.run_on_preflight === false)) {
      const names: string[] = keyAuth.config?.key_names ?? ['apikey'];
      const name = names.find((n) => req.headers[n.toLowerCase()] !== undefined);
      const key = name ? String(req.headers[name.toLowerCase()]) : undefined;
      if (!key) return answer(req, res, 401, 'No API key found in request', hit.route.name);
      consumer = credentials.get(key);
      if (!consumer) return answer(req, res, 401, 'Unauthorized', hit.route.name);
      if (keyAuth.config?.hide_credentials && name) delete headers[name.toLowerCase()];
    }
    const peer = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    headers['x-real-ip'] = peer;
    headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], peer].filter(Boolean).join(', ');
    const upstream = new URL(address(hit.service.url));
    headers.host = upstream.host;
    const up = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${upstream.pathname.replace(/\/$/, '')}${url.pathname}${url.search}`,
        headers,
      },
      (ur) => {
        log.push({
          method: req.method ?? '',
          path: url.pathname,
          route: hit.route.name,
          status: ur.statusCode ?? 0,
          consumer,
        });
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => answer(req, res, 502, 'An invalid response was received from the upstream server'));
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
