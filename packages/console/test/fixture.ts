// Shared by the console's browser tests and its bench: the seed incident replayed into the embedded store
// (the simulator's runScenario: real SDK clients, real image service, the simulated clock), the console on
// it, and Debian's Chromium driven by playwright-core.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConsoleServer, startConsole } from '@mp-otel/console';
import { loadCatalog } from '@mp-otel/contracts';
import { repoRoot } from '@mp-otel/devkit';
import { loadScenario, runScenario, type ScenarioOutcome, scenarioPath } from '@mp-otel/simulator';
import { type Embedded, readIp2Region, startEmbedded } from '@mp-otel/store';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = repoRoot();
export const catalog = loadCatalog(join(ROOT, 'catalog/catalog.yaml'));

/**
 * Debian's Chromium, installed by scripts/ensure-chromium.sh when missing. Throws (the tests then fail,
 * loudly) when it cannot be installed: a browser test that silently skips proves nothing.
 */
export function ensureChromium(): string {
  try {
    execFileSync(join(ROOT, 'scripts/ensure-chromium.sh'), { stdio: 'inherit', timeout: 600_000 });
  } catch (e) {
    throw new Error(
      `FAILED: the console's browser tests need Debian's Chromium at ${CHROMIUM}; scripts/ensure-chromium.sh could not install it: ${(e as Error).message}`,
    );
  }
  if (!existsSync(CHROMIUM))
    throw new Error(`FAILED: ${CHROMIUM} is still missing after scripts/ensure-chromium.sh`);
  return CHROMIUM;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: ensureChromium(),
    args: ['--no-sandbox', '--disable-gpu'],
    headless: true,
  });
}

export interface Seeded {
  emb: Embedded;
  con: ConsoleServer;
  outcome: ScenarioOutcome;
  close(): Promise<void>;
}

/** The seed incident, shortened: `minutes` simulated minutes, the fault from `faultFrom` to the end. */
export async function seeded(minutes = 12, faultFrom = 6, alertIntervalMs = 1000): Promise<Seeded> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-console-'));
  const emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, log: () => {} });
  const scenario = loadScenario(scenarioPath('seed-incident'));
  scenario.duration_minutes = minutes;
  for (const f of scenario.faults) {
    f.from_minute = faultFrom;
    f.to_minute = minutes;
  }
  const outcome = await runScenario(scenario, {
    otlpUrl: emb.otlpUrl,
    ipRanges: [...readIp2Region()].filter((r) => r.carrier && r.province),
    client: emb.client,
    database: emb.database,
    flush: () => emb.flush(),
  });
  const con = await startConsole({
    store: emb.store,
    database: emb.database,
    catalog,
    port: 0,
    alertIntervalMs,
  });
  return {
    emb,
    con,
    outcome,
    close: async () => {
      await con.close();
      await emb.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `fn` gives something truthy (a condition, not a sleep). */
export async function until<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
