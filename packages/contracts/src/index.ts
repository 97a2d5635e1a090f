export {
  type Catalog,
  type CatalogApp,
  CatalogError,
  type CatalogRoute,
  catalogSchemaPath,
  INGEST_KEY_HEADER,
  loadCatalog,
  parseCatalog,
  type RouteRow,
  routeRegex,
  routeRows,
} from './catalog.js';
