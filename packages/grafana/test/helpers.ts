import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, type SimulationResult, scenarioPath, simulate } from '@mp-otel/simulator';
import { readIp2Region, startEmbedded } from '@mp-otel/store';

export type Embedded = Awaited<ReturnType<typeof startEmbedded>>;

/** One embedded store per test file (chDB: one data dir per process) and one shortened simulation. */
export async function simulateInto(
  name: string,
  minutes: number,
  faultFrom?: number,
): Promise<{ emb: Embedded; sim: SimulationResult; close: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), `mp-otel-grafana-${name}-`));
  const emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, log: () => {} });
  const s = loadScenario(scenarioPath(name));
  s.duration_minutes = minutes;
  for (const f of s.faults) {
    f.from_minute = faultFrom ?? f.from_minute;
    f.to_minute = minutes;
  }
  const ipRanges = [...readIp2Region()].filter((r) => r.carrier && r.province);
  // simulate() runs one simulation at a time on the machine (the simulator's lock)
  const sim = await simulate(s, { otlpUrl: emb.otlpUrl, ipRanges });
  await emb.flush();
  return {
    emb,
    sim,
    close: async () => {
      await emb.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
