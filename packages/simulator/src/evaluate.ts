// The acceptance suite as code: run a scenario, then ask diagnose what a person on call would ask it —
// one and two simulated minutes after the fault began — and score the answer against what was injected.

import type { ClickHouseClient } from '@clickhouse/client';
import { culpritF1, type Diagnosis, diagnose } from '@mp-otel/diagnose';
import type { Scenario } from './scenario.js';
import { type SimulateOptions, type SimulationResult, simulate } from './simulate.js';

export interface ScenarioOutcome {
  scenario: string;
  simulation: SimulationResult;
  expected: Scenario['expect'];
  /** the diagnosis at the first checkpoint that named the expected culprit (or the last one tried) */
  diagnosis: Diagnosis;
  /** simulated minutes from fault onset to the culprit ranked first (undefined: not within the checks) */
  minutesToCulprit?: number;
  top1: boolean;
  /** F1 of the top culprit's dimension=value pairs against the injected ones (expect.set: 1 = the set matched) */
  f1: number;
  layerCorrect: boolean;
  /** rules firing at the end of the scenario (when an evaluator is given) */
  alertsFired?: string[];
}

export interface RunOptions extends Omit<SimulateOptions, 'otlpUrl'> {
  otlpUrl: string;
  client: ClickHouseClient;
  database: string;
  /** flushes the store so that queries see everything received */
  flush: () => Promise<void>;
  /** evaluates the alert rules at a moment; returns the names of those firing */
  alerts?: (atMs: number) => Promise<string[]>;
  /** simulated minutes after onset at which diagnose is asked (default [1, 2]) */
  checkpoints?: number[];
}

export async function runScenario(scenario: Scenario, o: RunOptions): Promise<ScenarioOutcome> {
  const simulation = await simulate(scenario, o);
  await o.flush();
  const expected = scenario.expect;
  const fault = simulation.faults[0];
  const q = { client: o.client, database: o.database };
  // with a fault: ask at the checkpoints after its onset; without one: ask once, at the end
  let diagnosis: Diagnosis = fault ? { culprits: [], codes: [], elapsedMs: 0 } : await diagnose(q);
  let minutesToCulprit: number | undefined;
  // named: the expected culprit ranked first, or (expect.set) exactly the expected root-cause set
  const named = (d: Diagnosis) =>
    expected?.set
      ? sameSet(d.set ?? [], expected.set)
      : culpritF1(d.culprits[0]?.where, expected?.culprit) === 1;
  if (fault) {
    for (const m of o.checkpoints ?? [1, 2]) {
      diagnosis = await diagnose({ ...q, at: fault.fromMs + m * 60_000 });
      if (named(diagnosis)) {
        minutesToCulprit = m;
        break;
      }
    }
  }
  const top = diagnosis.culprits[0]?.where;
  const expectsCulprit = expected?.culprit !== undefined || expected?.set !== undefined;
  const f1 = expected?.set
    ? Number(named(diagnosis))
    : expected?.culprit
      ? culpritF1(top, expected.culprit)
      : diagnosis.anomaly
        ? 0
        : 1;
  return {
    scenario: scenario.name,
    simulation,
    expected,
    diagnosis,
    minutesToCulprit,
    top1: expectsCulprit ? f1 === 1 : !diagnosis.anomaly,
    f1,
    layerCorrect: !expected?.layer || diagnosis.verdict?.layer === expected.layer,
    alertsFired: o.alerts ? await o.alerts(simulation.simEndMs) : undefined,
  };
}

/** Two root-cause sets with the same elements (each element the same dimension=value pairs), in any order. */
function sameSet(got: Array<Record<string, string>>, want: Array<Record<string, string>>): boolean {
  const key = (e: Record<string, string>) =>
    JSON.stringify(Object.entries(e).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const a = got.map(key).sort();
  const b = want.map(key).sort();
  return a.length === b.length && a.every((k, i) => k === b[i]);
}
