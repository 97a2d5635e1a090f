export {
  announceEndpoint,
  authenticate,
  CREDENTIALS_FILE,
  type Credential,
  type Credentials,
  DEFAULT_USERNAMES,
  endpointRegistryDir,
  findAnnouncedCredentials,
  ROLES,
  readCredentialsFile,
  resolveCredentials,
} from './auth.js';
export { defaultCatalogPath, loadCatalogIntoClickHouse } from './catalog.js';
export { ChdbStore, canSetNice } from './chdb-store.js';
export { foreignRequest, hostAllowed, startClickHouseHttp } from './clickhouse-http.js';
export {
  type ClusterLayout,
  ClusterRenderError,
  clusterLayout,
  clusterStatement,
  topLevelColumns,
} from './cluster.js';
export { type Embedded, type EmbeddedOptions, startEmbedded } from './embedded.js';
export { loadGeoIntoClickHouse, normaliseCarrier, readIp2Region } from './geo.js';
export {
  type ChangedMigration,
  defaultMigrationsDir,
  listMigrations,
  MigrationChangedError,
  type MigrationPlan,
  migrate,
  migrationScript,
  planMigrations,
  renderSql,
  resolveSchemaOptions,
  type SchemaOptions,
  splitStatements,
} from './migrate.js';
export { EMBEDDED_NODE_FLAGS, missingNodeFlags } from './node-flags.js';
export { CONVERT_NICE } from './otlp/convert-protocol.js';
export { decodeJson, decodeProtobuf, requestType } from './otlp/proto.js';
export { OtlpReceiver, startReceiver } from './otlp/receiver.js';
export { anyValueToString, formatDouble, logRows, metricRows, traceRows } from './otlp/rows.js';
export { type Role, SqlGuard, SqlGuardError, settingNames, tokenize } from './sql-guard.js';
