import { Session } from 'chdb';
import { writeFileSync } from 'node:fs';
const s = new Session('/tmp/sqlsec-probe-db4');
const t = async (q, fmt='TabSeparated') => { try { const r = await s.queryAsync(q, {format: fmt}); console.log('OK>', JSON.stringify(q.slice(0,140)), '\n', r.text().slice(0,200)); } catch (e) { console.log('ERR>', JSON.stringify(q.slice(0,140)), '\n', String(e.message).slice(0,250)); } };
const f = async (q) => { try { const r = await s.queryBindAsync('SELECT formatQuery({q:String})', {q}, {format:'TabSeparatedRaw'}); console.log('FMT>', JSON.stringify(q.slice(0,120)), '\n', r.text()); } catch (e) { console.log('FMTERR>', JSON.stringify(q.slice(0,120)), '\n', String(e.message).slice(0,200)); } };
await t("CREATE TABLE IF NOT EXISTS t (a String, n UInt32 DEFAULT 7) ENGINE=MergeTree ORDER BY a");
writeFileSync('/tmp/sqlsec-v.txt', "('v1', 1), (file('/etc/hostname'), 2); SELECT 'SECOND'");
await t("INSERT INTO t (a, n) SETTINGS input_format_values_interpret_expressions=0 FROM INFILE '/tmp/sqlsec-v.txt' FORMAT Values");
await t("INSERT INTO t (a, n) FROM INFILE '/tmp/sqlsec-v.txt' SETTINGS input_format_values_interpret_expressions=0 FORMAT Values");
writeFileSync('/tmp/sqlsec-v2.txt', "('v1', 1), ('it''s;x', 2)");
await t("INSERT INTO t (a, n) FROM INFILE '/tmp/sqlsec-v2.txt' SETTINGS input_format_values_interpret_expressions=0 FORMAT Values");
writeFileSync('/tmp/sqlsec-j.txt', '{"a":"j1"}\n{"a":"j2","n":3}\n');
await t("INSERT INTO t FROM INFILE '/tmp/sqlsec-j.txt' FORMAT JSONEachRow");
await t("SELECT * FROM t ORDER BY a");
for (const q of ["SHOW DATABASES","SHOW CREATE TABLE t","SHOW COLUMNS FROM t","SHOW PROCESSLIST","EXPLAIN SELECT 1","EXPLAIN PIPELINE SELECT 1","SELECT 1 UNION ALL SELECT 2","SELECT 1 EXCEPT SELECT 2","(SELECT 1)","WITH 1 AS x SELECT x","USE default","SET a=1","CHECK TABLE t","ATTACH TABLE t2 (a Int8) ENGINE=Memory","DETACH TABLE t","RENAME TABLE t TO t3","EXCHANGE TABLES t AND t3","SYSTEM RELOAD DICTIONARY x.y","GRANT SELECT ON *.* TO u","CREATE USER u","RESTORE TABLE t FROM File('/x')","DELETE FROM t WHERE 1","UNDROP TABLE t","CREATE FUNCTION f AS (x) -> x","DROP FUNCTION f", "SELECT 1 INTO OUTFILE 'x' TRUNCATE", "CREATE TEMPORARY TABLE tt (a Int8)", "CREATE VIEW v AS SELECT 1", "EXISTS t", "SHOW TABLES FROM system LIKE '%a%'", "DESC t", "SELECT count() FROM t FORMAT JSON", "KILL QUERY WHERE 1", "BEGIN TRANSACTION", "SHOW GRANTS", "SHOW SETTINGS LIKE 'x'", "CREATE NAMED COLLECTION c AS url='x'", "SELECT * FROM t FINAL", "PREPARE x", "EXPLAIN AST SELECT 1"]) {
  try { const r = await s.queryAsync('EXPLAIN AST ' + q, {format:'TabSeparatedRaw'}); console.log(JSON.stringify(q), '=>', r.text().split('\n')[0]); } catch (e) { console.log(JSON.stringify(q), 'ERR', String(e.message).slice(0,120)); }
}
await f("CREATE DICTIONARY d (k UInt64, a String) PRIMARY KEY k SOURCE(CLICKHOUSE(QUERY 'SELECT 1' host 'evil' PORT 9000 USER 'u' PASSWORD 'p')) LIFETIME(0) LAYOUT(FLAT())");
await t("EXPLAIN AST CREATE DICTIONARY d (k UInt64, a String) PRIMARY KEY k SOURCE(CLICKHOUSE(QUERY 'SELECT 1' host 'evil' PORT 9000)) LIFETIME(0) LAYOUT(FLAT())", 'TabSeparatedRaw');
await f("SELECT * FROM t SETTINGS additional_table_filters = {'t': 'a = 1'}, max_threads = 1");
s.close();
