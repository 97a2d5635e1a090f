export {
  type AlertResult,
  type DemoOptions,
  type DemoResult,
  type DemoStore,
  freshDir,
  runDemo,
} from './demo.js';
export {
  type Anomaly,
  BACKEND_DIMENSIONS,
  binomialLlr,
  CLIENT_DIMENSIONS,
  type Culprit,
  type DiagnoseOptions,
  type Diagnosis,
  detect,
  diagnose,
  formatDiagnosis,
  type Kpi,
  type LayerVerdict,
  localize,
  poissonLlr,
} from './diagnose.js';
export { culpritF1, type RunOptions, runScenario, type ScenarioOutcome } from './evaluate.js';
export { SIMULATION_LOCK, withMachineLock } from './lock.js';
export { lineChart, type ReportOptions, renderReport, type TimelineEvent } from './report.js';
export type { Dimension, Fault, Noise, Route, Scenario, Where } from './scenario.js';
export { loadScenario, matchesWhere, parseScenario, pick, rng, scenarioSchema } from './scenario.js';
export { type FaultWindow, type SimulateOptions, type SimulationResult, simulate } from './simulate.js';
export { type Clock, realAt, simNow, startTimeWarp, TraceShifts, warpOtlp } from './timewarp.js';
