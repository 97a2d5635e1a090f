// The guard's pure parts: the tokenizer, where inline INSERT data starts, SETTINGS names, EXPLAIN AST
// parsing, and the Host/Origin rules. (What ClickHouse's parser decides is tested in security-sql.test.ts.)
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { foreignRequest, hostAllowed } from '../src/clickhouse-http.js';
import { insertDataSplit, parseExplainAst, settingNames, tokenize } from '../src/sql-guard.js';

describe('tokenize', () => {
  it('skips comments, keeps quoted text whole, tracks bracket depth', () => {
    const t = tokenize("SELECT /* a; */ 'x;y' -- z\n, `we``ird`, f(g(1)) # note\n FROM t");
    expect(t.map((x) => x.text)).toEqual([
      'SELECT',
      "'x;y'",
      ',',
      '`we``ird`',
      ',',
      'f',
      '(',
      'g',
      '(',
      '1',
      ')',
      ')',
      'FROM',
      't',
    ]);
    expect(t.find((x) => x.text === 'g')?.depth).toBe(1);
    expect(t.filter((x) => x.text === ')').map((x) => x.depth)).toEqual([1, 0]);
  });
});

describe('insertDataSplit', () => {
  it('finds the data after FORMAT X or VALUES at depth 0 only', () => {
    const a = 'INSERT INTO t (format, `values`) FORMAT JSONEachRow\n{"a":1}';
    const s = insertDataSplit(a)!;
    expect(s.head).toBe('INSERT INTO t (format, `values`) FORMAT JSONEachRow');
    expect(a.slice(s.dataStart)).toBe('{"a":1}');
    const v = "insert into t values ('x;y'), (2)";
    const sv = insertDataSplit(v)!;
    expect(sv.head).toBe('insert into t FORMAT Values');
    expect(v.slice(sv.dataStart)).toBe(" ('x;y'), (2)");
    expect(insertDataSplit('INSERT INTO t SELECT * FROM u FORMAT JSON')).toBeUndefined();
    expect(insertDataSplit("SELECT 'INSERT INTO t VALUES (1)'")).toBeUndefined();
  });
});

describe('settingNames', () => {
  it('reads every name of SETTINGS clauses, values of any shape in between', () => {
    const t = tokenize(
      "SELECT 1 SETTINGS a = 1, b = 'x', c = {'t':'u = 1'}, d = disk(type = local, path = '/x'), e = -2 FORMAT JSON SETTINGS f = 0",
    );
    expect(settingNames(t)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(settingNames(tokenize('ALTER TABLE t MODIFY SETTING disk = 1'))).toEqual(['disk']);
    expect(settingNames(tokenize('SOURCE(x) SETTINGS(format_csv_allow_single_quotes = 0)'))).toEqual([
      'format_csv_allow_single_quotes',
    ]);
  });
});

describe('parseExplainAst', () => {
  it('builds parents and child positions from the indentation', () => {
    const ast = parseExplainAst(
      [
        'CreateQuery t (children 2)',
        ' Identifier t',
        ' Storage definition (children 2)',
        '  Function MergeTree',
        '  Function toDate (children 1)',
        '   ExpressionList (children 1)',
        '    Identifier ts',
      ].join('\n'),
    );
    const engine = ast.find((n) => n.name === 'MergeTree')!;
    const partition = ast.find((n) => n.name === 'toDate')!;
    expect([engine.parent?.type, engine.index]).toEqual(['Storage definition', 0]);
    expect(partition.index).toBe(1);
  });
});

describe('Host and Origin', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  const allowed = new Set(['otel.lan']);
  it('accepts loopback names, IP literals and configured names; refuses other names and foreign origins', () => {
    for (const h of ['localhost', '127.0.0.1', '[::1]', '10.0.0.7', 'otel.lan', 'LOCALHOST'])
      expect([h, hostAllowed(h, allowed)]).toEqual([h, true]);
    for (const h of ['evil.example', '127.0.0.1.nip.io', 'localhost.evil', '0x7f000001'])
      expect([h, hostAllowed(h, allowed)]).toEqual([h, false]);
    expect(foreignRequest(req({ host: '127.0.0.1:8123' }), allowed)).toBeUndefined();
    expect(foreignRequest(req({ host: 'evil.example:8123' }), allowed)).toMatch(/not a name of this server/);
    expect(foreignRequest(req({ host: 'localhost:8123', origin: 'http://evil.example' }), allowed)).toMatch(
      /refused/,
    );
    expect(foreignRequest(req({ host: 'localhost:8123', origin: 'null' }), allowed)).toMatch(/refused/);
    expect(
      foreignRequest(req({ host: 'localhost', origin: 'http://localhost:3000' }), allowed),
    ).toBeUndefined();
    expect(foreignRequest(req({ host: 'localhost', 'sec-fetch-site': 'cross-site' }), allowed)).toMatch(
      /cross-site/,
    );
  });
});
