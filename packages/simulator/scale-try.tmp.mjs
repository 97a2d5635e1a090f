import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDiagnosis } from '@mp-otel/diagnose';
import { loadScenario, runScenario, scenarioPath } from '@mp-otel/simulator';
import { readIp2Region, startEmbedded } from '@mp-otel/store';

const s = loadScenario(scenarioPath('scale/seed-incident-scale'));
s.scale.users = Number(process.env.USERS ?? 100000);
s.duration_minutes = Number(process.env.MIN ?? 6);
s.faults[0].from_minute = Number(process.env.FAULT ?? 3);
s.faults[0].to_minute = s.duration_minutes;
const emb = await startEmbedded({
  dataDir: mkdtempSync(join(tmpdir(), 'scale-try-')),
  otlpPort: 0,
  httpPort: 0,
  log: () => {},
});
const t = Date.now();
const o = await runScenario(s, {
  otlpUrl: emb.otlpUrl,
  ipRanges: [...readIp2Region()].filter((r) => r.carrier && r.province),
  client: emb.client,
  database: emb.database,
  flush: () => emb.flush(),
  log: (l) => console.log(l),
});
console.log(
  'wall',
  (Date.now() - t) / 1000,
  'crowd',
  JSON.stringify(o.simulation.crowd),
  'outcomes',
  JSON.stringify(o.simulation.outcomes),
);
const r = await (
  await emb.client.query({
    query: `SELECT count() c, countIf(SpanKind='Server') srv, countIf(ResourceAttributes['mp.platform']!='') cli FROM ${emb.database}.otel_traces`,
    format: 'JSONEachRow',
  })
).json();
console.log(
  JSON.stringify(r),
  'minutesToCulprit',
  o.minutesToCulprit,
  'top1',
  o.top1,
  'layer',
  o.layerCorrect,
  'diag ms',
  o.diagnosis.elapsedMs,
);
console.log(formatDiagnosis(o.diagnosis));
await emb.close();
