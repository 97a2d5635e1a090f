// The generated dashboard JSON files (grafana/dashboards/*.json, the artifacts Grafana loads) are
// type-checked with the TypeScript compiler against Grafana's own published schema types
// (@grafana/schema: Dashboard, generated from Grafana's CUE schema). Excess properties, wrong value types
// and unknown enum values are errors. String enums are compared by value (JSON has no enums).
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GRAFANA_DIR } from './paths.js';

const require = createRequire(import.meta.url);
const ts = require('typescript') as typeof import('typescript');
const here = fileURLToPath(new URL('.', import.meta.url));

function check(files: Record<string, string>): string[] {
  const options: import('typescript').CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const orig = { getSourceFile: host.getSourceFile, fileExists: host.fileExists, readFile: host.readFile };
  host.getSourceFile = (name, lang, ...rest) =>
    files[name] !== undefined
      ? ts.createSourceFile(name, files[name]!, lang)
      : orig.getSourceFile.call(host, name, lang, ...rest);
  host.fileExists = (name) => files[name] !== undefined || orig.fileExists.call(host, name);
  host.readFile = (name) => files[name] ?? orig.readFile.call(host, name);
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    return `${d.file?.fileName ?? ''}:${where ? where.line + 1 : ''} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

// Panel and annotation targets are datasource queries: Grafana's schema leaves them open (DataQuery);
// here they must be the ClickHouse plugin's SQL query (its src/types/sql.ts CHSqlQuery fields).
const PRELUDE = `import type { AnnotationQuery, Dashboard, DataQuery, Panel } from '@grafana/schema';
type Lit<T> = T extends string ? \`\${T}\` : T extends number ? number : T extends boolean ? boolean : T extends Array<infer U> ? Array<Lit<U>> : T extends object ? { [K in keyof T]: Lit<T[K]> } : T;
interface CHSqlQuery extends DataQuery { editorType: 'sql'; rawSql: string; pluginVersion: string; format?: 0 | 1 | 2 | 3; queryType?: 'table' | 'timeseries' | 'logs' | 'traces' }
type CHPanel = Omit<Lit<Panel>, 'targets'> & { targets?: CHSqlQuery[] };
type CHDashboard = Omit<Lit<Dashboard>, 'panels' | 'annotations'> & { panels?: CHPanel[]; annotations?: { list?: Array<Lit<AnnotationQuery<CHSqlQuery>>> } };
`;

describe('dashboard JSON against @grafana/schema', () => {
  const dir = join(GRAFANA_DIR, 'dashboards');
  const jsonFiles = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('finds the generated dashboards', () => {
    expect(jsonFiles.length).toBe(11);
  });

  it('every generated dashboard type-checks as a Grafana Dashboard', () => {
    const files: Record<string, string> = {};
    for (const f of jsonFiles) {
      files[join(here, `__schema_${f.replace(/\W/g, '_')}.mts`)] =
        `${PRELUDE}export const d: CHDashboard = ${readFileSync(join(dir, f), 'utf8')};\n`;
    }
    expect(check(files)).toEqual([]);
  }, 120_000);

  it('the check can fail: a wrong property type and an unknown property are reported', () => {
    const bad = JSON.parse(readFileSync(join(dir, jsonFiles[0]!), 'utf8'));
    bad.schemaVersion = 'forty';
    bad.panels[0].gridPos.wide = 3;
    const diags = check({
      [join(here, '__schema_bad.mts')]: `${PRELUDE}export const d: CHDashboard = ${JSON.stringify(bad)};\n`,
    });
    expect(diags.join('\n')).toMatch(/schemaVersion|wide/);
  }, 120_000);
});
