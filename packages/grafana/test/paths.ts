// Repository files the tests compare against (test code may reach outside the package; runtime code may not).
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '@mp-otel/contracts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const GRAFANA_DIR = `${REPO_ROOT}grafana`;
export const catalog = loadCatalog(`${REPO_ROOT}catalog/catalog.yaml`);
