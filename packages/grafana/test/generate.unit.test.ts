import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alertRules } from '../src/alerts.js';
import { buildDashboards } from '../src/dashboards.js';
import { generatedFiles } from '../src/generate.js';
import { expandGrafanaEnvDeep } from '../src/provisioning.js';
import { DATASOURCE_TYPE, DATASOURCE_UID } from '../src/query.js';
import { collectQueries } from '../src/run.js';
import { catalog, GRAFANA_DIR } from './paths.js';

const dashboards = buildDashboards(catalog);
// Panel plugin ids shipped with Grafana that we use.
const PANEL_TYPES = new Set(['timeseries', 'stat', 'table', 'piechart', 'traces', 'logs']);
const MACROS = new Set([
  'timeFilter',
  'timeFilter_ms',
  'fromTime',
  'toTime',
  'fromTime_ms',
  'toTime_ms',
  'timeInterval',
  'timeInterval_ms',
  'interval_s',
  'conditionalAll',
  'dateFilter',
  'timeFrom',
  'timeTo',
  'timeGroup',
]);

describe('generated provisioning', () => {
  it('grafana/ is up to date with the code (run `npm run generate -w @mp-otel/grafana`)', () => {
    const files = generatedFiles(catalog);
    for (const [rel, content] of Object.entries(files)) {
      const onDisk = readFileSync(join(GRAFANA_DIR, rel), 'utf8');
      // JSON files are formatted by Biome after generation: compare their content, YAML byte for byte
      if (rel.endsWith('.json')) expect(JSON.parse(onDisk), rel).toEqual(JSON.parse(content));
      else expect(onDisk, rel).toBe(content);
    }
  });

  it('datasource: grafana-clickhouse-datasource with OpenTelemetry traces and logs tables', () => {
    const ds = parse(readFileSync(join(GRAFANA_DIR, 'provisioning/datasources/clickhouse.yaml'), 'utf8'));
    const d = ds.datasources[0];
    expect(d).toMatchObject({ type: DATASOURCE_TYPE, uid: DATASOURCE_UID });
    expect(d.jsonData.traces).toMatchObject({
      defaultTable: 'otel_traces',
      otelEnabled: true,
      durationUnit: 'nanoseconds',
    });
    expect(d.jsonData.logs).toMatchObject({ defaultTable: 'otel_logs', otelEnabled: true });
    const prov = parse(readFileSync(join(GRAFANA_DIR, 'provisioning/dashboards/mp-otel.yaml'), 'utf8'));
    expect(prov.providers[0]).toMatchObject({ type: 'file', folder: 'mp-otel' });
  });

  it('alert rules: one file-provisioned group, a 400-ratio rule per catalog route, threshold on a single numeric column', () => {
    const doc = parse(readFileSync(join(GRAFANA_DIR, 'provisioning/alerting/mp-otel-rules.yaml'), 'utf8'));
    expect(doc.apiVersion).toBe(1);
    const rules = doc.groups[0].rules;
    const titles = rules.map((r: { title: string }) => r.title);
    for (const r of catalog.routes) {
      expect(titles).toContain(`${r.name}: 400 ratio`);
      expect(titles).toContain(`${r.name}: errors vs last week`);
      expect(titles).toContain(`${r.name}: burn rate 1h/5m`);
      expect(titles).toContain(`${r.name}: burn rate 6h/30m`);
    }
    expect(new Set(rules.map((r: { uid: string }) => r.uid)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.uid.length).toBeLessThanOrEqual(40);
      expect(r.condition).toBe('C');
      expect(r.data[0].datasourceUid).toBe(DATASOURCE_UID);
      expect(r.data[1].model).toMatchObject({ type: 'threshold', expression: 'A' });
      // the YAML carries exactly the SQL the evaluator runs
      const def = alertRules(catalog).find((x) => x.uid === r.uid)!;
      expect(r.data[0].model.rawSql).toBe(def.sql);
      expect(r.data[0].relativeTimeRange.from).toBe(def.fromSeconds);
    }
  });
});

describe('dashboards (checked against the foundation SDK types and these structural rules)', () => {
  it('the seven seed dashboards and the four more are there, with unique uids', () => {
    expect(dashboards.map((d) => d.uid)).toEqual([
      'mp-overview',
      'mp-trend',
      'mp-code-errors',
      'mp-slow-routes',
      'mp-route-detail',
      'mp-crawler',
      'mp-exceptions',
      'mp-traces',
      'mp-image',
      'mp-slo',
      'mp-path',
    ]);
  });

  for (const d of dashboards) {
    it(`${d.uid}: panels, targets, variables`, () => {
      expect(d.title).toBeTruthy();
      expect(d.schemaVersion).toBeGreaterThanOrEqual(39);
      const varNames = new Set((d.templating?.list ?? []).map((v) => v.name));
      const multi = new Set(
        (d.templating?.list ?? []).filter((v) => v.multi && v.includeAll).map((v) => v.name),
      );
      for (const p of d.panels ?? []) {
        const panel = p as {
          type: string;
          title?: string;
          gridPos?: { x: number; y: number; w: number; h: number };
          datasource?: { uid?: string };
          targets?: unknown[];
        };
        expect(PANEL_TYPES.has(panel.type), `${panel.title}: ${panel.type}`).toBe(true);
        expect(panel.gridPos, panel.title).toBeDefined();
        expect(panel.gridPos!.x + panel.gridPos!.w).toBeLessThanOrEqual(24);
        expect(panel.datasource).toEqual({ type: DATASOURCE_TYPE, uid: DATASOURCE_UID });
        expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
        for (const t of panel.targets as Array<Record<string, unknown>>) {
          expect(t).toMatchObject({
            editorType: 'sql',
            datasource: { type: DATASOURCE_TYPE, uid: DATASOURCE_UID },
          });
          expect([0, 1, 2, 3]).toContain(t.format);
        }
      }
      for (const q of collectQueries(d)) {
        for (const m of q.rawSql.matchAll(/\$__(\w+)/g))
          expect(MACROS.has(m[1]!), `${q.title}: $__${m[1]}`).toBe(true);
        for (const m of q.rawSql.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(?!__)(\w+)/g)) {
          const name = m[1] ?? m[2]!;
          expect(varNames.has(name), `${d.uid} / ${q.title}: unknown variable $${name}`).toBe(true);
        }
        // a multi-value variable is only used through $__conditionalAll (so "All" means no filter)
        for (const m of q.rawSql.matchAll(/\$__conditionalAll\(([^,]+(?:\([^)]*\))?[^,]*),\s*\$(\w+)\)/g)) {
          expect(multi.has(m[2]!), `${q.title}: $__conditionalAll on non-multi $${m[2]}`).toBe(true);
        }
      }
    });
  }
});

describe('docker-compose.yml runs this provisioning as generated', () => {
  it('mounts, provisioning path, provider path and the datasource environment agree', () => {
    const root = new URL('../../../', import.meta.url);
    const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'));
    const grafana = compose.services.grafana;
    expect(grafana.volumes).toContain('./grafana:/etc/mp-otel/grafana:ro');
    expect(grafana.environment.GF_PATHS_PROVISIONING).toBe('/etc/mp-otel/grafana/provisioning');
    const provider = parse(
      readFileSync(new URL('grafana/provisioning/dashboards/mp-otel.yaml', root), 'utf8'),
    );
    expect(provider.providers[0].options.path).toBe('/etc/mp-otel/grafana/dashboards');
    const datasource = readFileSync(
      new URL('grafana/provisioning/datasources/clickhouse.yaml', root),
      'utf8',
    );
    for (const variable of datasource.match(/\$[A-Z_]+/g) ?? []) {
      expect(Object.keys(grafana.environment), variable).toContain(variable.slice(1));
    }
    // Grafana interpolates the datasource file with its environment: rendered, it names compose's ClickHouse
    const ds = expandGrafanaEnvDeep(parse(datasource).datasources[0], grafana.environment);
    expect(String(ds.jsonData.port)).toBe(String(grafana.environment.CLICKHOUSE_PORT));
    expect(ds.jsonData.host).toBe(grafana.environment.CLICKHOUSE_HOST);
    expect(ds.jsonData.host).toBe('clickhouse');
  });
});
