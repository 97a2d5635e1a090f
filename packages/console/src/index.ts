export type { GrafanaDashboard, GrafanaPanel } from './dashboards.js';
export { Explorer, TRACE_FILTERS } from './explore.js';
export { HttpError } from './http-error.js';
export { type Incident, IncidentWatcher, type RuleState } from './incidents.js';
export { type ConsoleOptions, type ConsoleServer, startConsole } from './server.js';
export { StoreReader } from './store-client.js';
