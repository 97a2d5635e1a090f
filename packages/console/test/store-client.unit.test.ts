import { describe, expect, it } from 'vitest';
import { isSingleStatement } from '../src/store-client.js';

describe('the console runs one statement at a time', () => {
  it('finds a second statement outside literals and comments', () => {
    expect(isSingleStatement('SELECT 1 WHERE x = \'a;b\' AND `c;d` = "e;f" -- g;h\n/* i;j */')).toBe(true);
    expect(isSingleStatement("SELECT 'it\\'s;' AS x, 'x'';y' AS y")).toBe(true);
    expect(isSingleStatement('SELECT 1; DROP TABLE otel_traces')).toBe(false);
    // a backslash escapes the quote: one literal; an escaped backslash does not: the statement ends
    expect(isSingleStatement("SELECT 'a\\'; INSERT INTO t SELECT 1 --'")).toBe(true);
    expect(isSingleStatement("SELECT 'a\\\\'; DROP TABLE t")).toBe(false);
    expect(isSingleStatement('SELECT 1 /* unterminated')).toBe(false);
  });
});
