// The per-client-IP telemetry limit (kong/nginx-http.conf + kong/nginx-proxy.conf, injected into Kong's
// nginx) run by a real nginx (Debian's 1.22 here; Kong 3.9 embeds OpenResty's nginx 1.25): the generated
// files included exactly where Kong includes them — the http block and the proxy server block, whose
// `location /` proxies upstream and declares no add_header of its own (kong/templates/nginx_kong.lua).
// Kong itself (key-auth, consumer rate limits) cannot run here. nginx comes from scripts/ensure-nginx.sh.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCatalog } from '@mp-otel/contracts';
import { repoRoot } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../src/collector.js';
import { renderKongNginxHttp, renderKongNginxProxy } from '../src/kong.js';

// installed by the project's script when missing (as Chromium is); a machine where it cannot be fails here
execFileSync(join(repoRoot(), 'scripts', 'ensure-nginx.sh'), { stdio: 'inherit' });
const nginx = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const KEY_A = 'mpk_app_a_key_00001';
const KEY_B = 'mpk_app_b_key_00001';

function config(dir: string, port: number, upstream: number, http: string, proxy: string): string {
  for (const d of ['tmp', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'nginx-http.conf'), http);
  writeFileSync(join(dir, 'nginx-proxy.conf'), proxy);
  const file = join(dir, 'nginx.conf');
  writeFileSync(
    file,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  include ${dir}/nginx-http.conf;
  server {
    listen 127.0.0.1:${port};
    include ${dir}/nginx-proxy.conf;
    location / {
      proxy_http_version 1.1;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_pass http://127.0.0.1:${upstream};
    }
  }
}
`,
  );
  return file;
}

describe('per-client-IP telemetry limits in nginx (Kong injection files)', () => {
  let dir: string;
  let upstream: Server;
  let child: ChildProcess | undefined;
  let base = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mp-otel-nginx-'));
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    // two apps: one with a low per-IP limit, one with a high one
    const catalog = parseCatalog(
      readFileSync(join(repoRoot(), 'catalog', 'catalog.yaml'), 'utf8').replace(
        /^apps:\n/m,
        `apps:\n  - name: app-a\n    keys: [{ id: a1, key: ${KEY_A} }]\n    quota: { per_ip_requests_per_second: 2 }\n  - name: app-b\n    keys: [{ id: b1, key: ${KEY_B} }]\n    quota: { per_ip_requests_per_second: 1000 }\n`,
      ),
    );
    const port = await freePort();
    const file = config(
      dir,
      port,
      (upstream.address() as AddressInfo).port,
      renderKongNginxHttp(catalog),
      renderKongNginxProxy(catalog),
    );
    child = spawn(nginx as string, ['-p', dir, '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    base = `http://127.0.0.1:${port}`;
    await waitFor(
      async () =>
        fetch(`${base}/`).then(
          () => true,
          () => undefined,
        ),
      15_000,
      'nginx listening',
    );
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const done = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const burst = async (path: string, key?: string, n = 40) =>
    Promise.all(
      Array.from({ length: n }, () =>
        fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(key ? { 'x-mp-otel-key': key } : {}) },
          body: '{}',
        }).then(async (r) => ({
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          body: await r.text(),
        })),
      ),
    );

  it('the shipped files load into nginx (nginx -t)', () => {
    const port = 1; // never listened on: -t only parses
    const file = config(
      join(dir, 'shipped'),
      port,
      1,
      readFileSync(join(repoRoot(), 'kong', 'nginx-http.conf'), 'utf8'),
      readFileSync(join(repoRoot(), 'kong', 'nginx-proxy.conf'), 'utf8'),
    );
    const out = execFileSync(nginx as string, ['-t', '-p', join(dir, 'shipped'), '-c', file], {
      stdio: 'pipe',
    }).toString();
    expect(out).toBe('');
  });

  it("one client over its app's per-IP rate gets 429 with Retry-After; requests within it pass", async () => {
    const res = await burst('/v1/traces', KEY_A);
    const limited = res.filter((r) => r.status === 429);
    const passed = res.filter((r) => r.status === 200);
    // rate 2/s with burst 4: of 40 requests sent at once, at most burst+1 (+ refills while sending) pass
    expect(passed.length).toBeGreaterThan(0);
    expect(limited.length).toBeGreaterThan(20);
    for (const r of limited) expect(r.retryAfter).toBe('1');
    for (const r of passed) expect(r.retryAfter).toBeNull();
  });

  it("another app's key from the same address has its own limit", async () => {
    const res = await burst('/v1/logs', KEY_B);
    expect(res.every((r) => r.status === 200)).toBe(true);
  });

  it('business routes, and requests without a known key (Kong answers those 401), are not counted', async () => {
    expect((await burst('/upload', KEY_A)).every((r) => r.status === 200)).toBe(true);
    expect((await burst('/v1/traces')).every((r) => r.status === 200)).toBe(true);
    expect((await burst('/v1/traces', 'mpk_unknown_key_00001')).every((r) => r.status === 200)).toBe(true);
  });
});
