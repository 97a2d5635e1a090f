export { loadScenario, matchesWhere, parseScenario, pick, rng, scenarioSchema } from './scenario.js';
export type { Dimension, Fault, Noise, Route, Scenario, Where } from './scenario.js';
export { type FaultWindow, type SimulateOptions, type SimulationResult, simulate } from './simulate.js';
export { type Clock, realAt, simNow, startTimeWarp, TraceShifts, warpOtlp } from './timewarp.js';
export {
  type Anomaly,
  BACKEND_DIMENSIONS,
  binomialLlr,
  CLIENT_DIMENSIONS,
  type Culprit,
  type Diagnosis,
  type DiagnoseOptions,
  detect,
  diagnose,
  formatDiagnosis,
  type Kpi,
  type LayerVerdict,
  localize,
  poissonLlr,
} from './diagnose.js';
export { lineChart, renderReport, type ReportOptions, type TimelineEvent } from './report.js';
export { culpritF1, runScenario, type RunOptions, type ScenarioOutcome } from './evaluate.js';
export { type AlertResult, type DemoOptions, type DemoResult, type DemoStore, freshDir, runDemo } from './demo.js';
