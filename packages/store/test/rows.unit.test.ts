import { describe, expect, it } from 'vitest';
import { anyValueToString, formatDouble } from '../src/otlp/rows.js';

// Expected strings are what pdata's Value.AsString() returns (collector-contrib clickhouse exporter).
describe('attribute rendering (pdata AsString parity)', () => {
  it('renders scalars like Go', () => {
    expect(anyValueToString({ value: 'stringValue', stringValue: 'a<b>&c' })).toBe('a<b>&c');
    expect(anyValueToString({ value: 'boolValue', boolValue: true })).toBe('true');
    expect(anyValueToString({ value: 'boolValue', boolValue: false })).toBe('false');
    expect(anyValueToString({ value: 'intValue', intValue: '-9223372036854775808' })).toBe(
      '-9223372036854775808',
    );
    expect(anyValueToString({ value: 'bytesValue', bytesValue: Buffer.from('hi') })).toBe('aGk=');
    expect(anyValueToString(undefined)).toBe('');
  });
  it('formats doubles as ES6 numbers, Inf/NaN as Go error strings', () => {
    expect(formatDouble(1)).toBe('1');
    expect(formatDouble(1.5)).toBe('1.5');
    expect(formatDouble(1e21)).toBe('1e+21');
    expect(formatDouble(123456789012345680000)).toBe('123456789012345680000');
    expect(formatDouble(1e-7)).toBe('1e-7');
    expect(formatDouble(0.000001)).toBe('0.000001');
    expect(formatDouble(-0)).toBe('-0');
    expect(formatDouble(Number.NaN)).toBe('json: unsupported value: NaN');
    expect(formatDouble(Number.POSITIVE_INFINITY)).toBe('json: unsupported value: +Inf');
    expect(formatDouble(Number.NEGATIVE_INFINITY)).toBe('json: unsupported value: -Inf');
  });
  it('renders arrays and maps as Go JSON (sorted keys, no HTML escaping, U+2028 escaped)', () => {
    const arr = {
      value: 'arrayValue',
      arrayValue: {
        values: [
          { value: 'intValue', intValue: 1 },
          { value: 'stringValue', stringValue: 'a<b\n\u2028"' },
          { value: 'doubleValue', doubleValue: 2.5 },
          { value: 'boolValue', boolValue: true },
          {},
        ],
      },
    };
    expect(anyValueToString(arr)).toBe('[1,"a<b\\n\\u2028\\"",2.5,true,null]');
    const map = {
      value: 'kvlistValue',
      kvlistValue: {
        values: [
          { key: 'z', value: { value: 'intValue', intValue: 2 } },
          {
            key: 'a',
            value: {
              value: 'kvlistValue',
              kvlistValue: { values: [{ key: 'y', value: { value: 'stringValue', stringValue: '\u0001' } }] },
            },
          },
        ],
      },
    };
    expect(anyValueToString(map)).toBe('{"a":{"y":"\\u0001"},"z":2}');
    // Go's json.Marshal fails on NaN inside a map/array: the exporter stores ""
    expect(
      anyValueToString({
        value: 'arrayValue',
        arrayValue: { values: [{ value: 'doubleValue', doubleValue: Number.NaN }] },
      }),
    ).toBe('');
  });
});
