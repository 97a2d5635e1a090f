export {
  type AlertResult,
  type DemoOptions,
  type DemoResult,
  type DemoStore,
  freshDir,
  runDemo,
} from './demo.js';
export { type RunOptions, runScenario, type ScenarioOutcome } from './evaluate.js';
export {
  DEFAULT_LATENCY,
  type LatencyModel,
  type LatencySpec,
  latencyModel,
  latencySpec,
} from './latency.js';
export { SIMULATION_LOCK, withMachineLock } from './lock.js';
export { drawProfile, type GeoRanges, geoRanges, type Profile, wxFingerprint } from './profile.js';
export type { Dimension, Fault, Noise, Route, Scenario, Where } from './scenario.js';
export {
  loadScenario,
  matchesWhere,
  parseScenario,
  pick,
  rng,
  scenarioPath,
  scenarioSchema,
} from './scenario.js';
export {
  type FaultWindow,
  type SimulateOptions,
  type SimulationResult,
  scaleOf,
  simulate,
} from './simulate.js';
export {
  Crowd,
  type CrowdStats,
  crowdUser,
  type ScaleSpec,
  sdkClientSpan,
  sdkResource,
} from './synthetic.js';
export {
  type Clock,
  realAt,
  type ServerTiming,
  simNow,
  startTimeWarp,
  TraceModels,
  TraceShifts,
  warpOtlp,
} from './timewarp.js';
