export {
  type Anomaly,
  binomialLlr,
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
export { type ExceptionGroup, exceptionGroups } from './exceptions.js';
export { lineChart, type ReportOptions, renderReport, type TimelineEvent } from './report.js';
export { culpritF1 } from './score.js';
