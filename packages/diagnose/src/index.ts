export {
  binomialLlr,
  type ChangePoint,
  cellTable,
  changePoint,
  type Detected,
  type DetectOptions,
  detectSeries,
  dispersion,
  type LeafCell,
  type LocalizeOptions,
  type LocalizeResult,
  localizeCells,
  localizeTable,
  type Mode,
  poissonDropLlr,
  poissonLlr,
  type SegmentEvidence,
  type SeriesPoint,
} from './core.js';
export {
  type Anomaly,
  type Culprit,
  type DiagnoseOptions,
  type Diagnosis,
  detect,
  diagnose,
  formatDiagnosis,
  type Kpi,
  type LayerVerdict,
  localize,
  localizeSet,
} from './diagnose.js';
export { type ExceptionGroup, exceptionGroups } from './exceptions.js';
export { type CellTable, DENSE_MAX_SEGMENTS, LatticeTooLargeError, SPARSE_MAX_ENTRIES } from './lattice.js';
export {
  formatRca,
  LEAF_LIMITS,
  type LeafColumns,
  type LeafLimits,
  type LeafRow,
  type LeafTable,
  parseLeafCsv,
  parseTimeCell,
  type RcaAnomaly,
  type RcaCulprit,
  RcaInputError,
  type RcaOptions,
  type RcaResult,
  rateCells,
  rcaLeafTable,
} from './leaf.js';
export { type LeafTableSource, readLeafTable } from './leaf-store.js';
export { lineChart, type ReportOptions, renderReport, type TimelineEvent } from './report.js';
export { culpritF1 } from './score.js';
