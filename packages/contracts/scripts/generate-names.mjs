// Writes src/names.ts from telemetry-names.yaml (`npm run generate -w @mp-otel/contracts`, or --check).
// A unit test fails when src/names.ts is not what this script writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = (/** @type {string} */ rel) => fileURLToPath(new URL(rel, import.meta.url));
const PREFIX = {
  attribute: 'ATTR_',
  span: 'SPAN_',
  event: 'EVENT_',
  metric: 'METRIC_',
  header: 'HEADER_',
  baggage: 'BAGGAGE_',
  value: 'VALUE_',
};

/** @param {string} yamlText @returns {string} */
export function renderNames(yamlText) {
  /** @type {Array<{name: string, const?: string, kind: keyof typeof PREFIX, on?: string[], origin?: string, brief: string}>} */
  const entries = parse(yamlText);
  const seen = new Set();
  const lines = [
    '// GENERATED from telemetry-names.yaml by scripts/generate-names.mjs — do not edit.',
    '// The telemetry names every runtime uses (see telemetry-names.yaml for the rules).',
    '',
  ];
  for (const e of entries) {
    if (!PREFIX[e.kind]) throw new Error(`${e.name}: unknown kind ${e.kind}`);
    const constName = e.const ?? PREFIX[e.kind] + e.name.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
    if (seen.has(constName)) throw new Error(`duplicate constant ${constName}`);
    seen.add(constName);
    const where = e.on ? ` (${e.on.join(', ')})` : '';
    const origin = e.origin === 'legacy' ? ' Legacy name.' : '';
    lines.push(`/** ${e.brief}${where}.${origin} */`, `export const ${constName} = '${e.name}';`);
  }
  const attrs = entries.filter((e) => e.kind === 'attribute').map((e) => `  '${e.name}',`);
  lines.push(
    '',
    '/** Every attribute name above. */',
    'export const ATTRIBUTE_NAMES: readonly string[] = [',
    ...attrs,
    '];',
    '',
  );
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = renderNames(readFileSync(here('../telemetry-names.yaml'), 'utf8'));
  const out = here('../src/names.ts');
  if (process.argv.includes('--check')) {
    if (readFileSync(out, 'utf8') !== text) {
      console.error('src/names.ts is out of date: npm run generate -w @mp-otel/contracts');
      process.exitCode = 1;
    }
  } else writeFileSync(out, text);
}
