import { startEmbedded } from '@mp-otel/store';
import { mkdtempSync } from 'node:fs';
const emb = await startEmbedded({ dataDir: mkdtempSync('/tmp/sqlsec-p5-'), otlpPort: 0, httpPort: 0, geo: false, catalog: false, log: () => {}, env: {} });
const c = emb.credentials.admin;
const auth = 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
await emb.client.command({ query: 'CREATE TABLE default.sec_t (a String, n UInt32 DEFAULT 0) ENGINE = MergeTree ORDER BY a' });
for (const q of ["INSERT INTO default.sec_t (a) VALUES ('ok1'); SELECT 1", 'INSERT INTO default.sec_t FORMAT JSONEachRow {"a":"ok2"}\n; SELECT 1', "INSERT INTO default.sec_t (a) VALUES (file('/etc/hostname'))"]) {
  const r = await fetch(emb.clickhouseUrl + '/', { method: 'POST', body: q, headers: { Authorization: auth } });
  console.log(r.status, (await r.text()).slice(0, 300));
}
await emb.close();
