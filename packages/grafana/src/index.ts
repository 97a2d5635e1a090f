export {
  type AlertOptions,
  type AlertResult,
  type AlertRule,
  alertProvisioning,
  alertRules,
  evaluateAlerts,
  formatAlerts,
  qualifyTables,
} from './alerts.js';
export { buildDashboards, dashboardSpecs, P400 } from './dashboards.js';
export { generate, generatedFiles } from './generate.js';
export {
  applyConditionalAll,
  defaultIntervalMs,
  expandBackendMacros,
  expandQuery,
  type MacroContext,
  replaceVariables,
  type VariableValue,
} from './macros.js';
export { buildDashboard, type DashboardSpec, type PanelSpec, type VariableSpec } from './panels.js';
export {
  dashboardProviderProvisioning,
  datasourceProvisioning,
  expandGrafanaEnv,
  expandGrafanaEnvDeep,
} from './provisioning.js';
export {
  ClickHouseQueryBuilder,
  DATASOURCE,
  DATASOURCE_TYPE,
  DATASOURCE_UID,
  Format,
  PLUGIN_VERSION,
} from './query.js';
export {
  collectQueries,
  type DashboardQuery,
  type QueryResult,
  type RunOptions,
  relativeMs,
  runDashboard,
} from './run.js';
