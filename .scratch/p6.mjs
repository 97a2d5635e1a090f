import { startEmbedded } from '@mp-otel/store';
import { mkdtempSync } from 'node:fs';
const emb = await startEmbedded({ dataDir: mkdtempSync('/tmp/sqlsec-p6-'), otlpPort: 0, httpPort: 0, geo: false, catalog: false, log: () => {}, env: {} });
const c = emb.credentials.admin;
const auth = 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
for (const q of ["SELECT reverseDNSQuery('127.0.0.1') SETTINGS allow_reverse_dns_query_function = 1"]) {
  const r = await fetch(emb.clickhouseUrl + '/', { method: 'POST', body: q, headers: { Authorization: auth } });
  console.log(r.status, (await r.text()).slice(0, 400));
}
await emb.close();
