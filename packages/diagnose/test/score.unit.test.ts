// The scan statistic's log-likelihood ratios and the culprit score, without a store.
import { describe, expect, test } from 'vitest';
import { binomialLlr, poissonLlr } from '../src/diagnose.js';
import { culpritF1 } from '../src/score.js';

describe('scores', () => {
  test('binomial and Poisson log-likelihood ratios are one-sided and grow with the deviation', () => {
    expect(binomialLlr(1, 100, 0.05)).toBe(0);
    expect(binomialLlr(40, 100, 0.01)).toBeGreaterThan(binomialLlr(20, 100, 0.01));
    expect(binomialLlr(40, 100, 0.01)).toBeGreaterThan(binomialLlr(40, 250, 0.01)); // concentrated beats diluted
    expect(poissonLlr(5, 10)).toBe(0);
    expect(poissonLlr(30, 10)).toBeCloseTo(30 * Math.log(3) - 20, 6);
  });
  test('culprit F1', () => {
    expect(culpritF1({ a: '1', b: '2' }, { a: '1', b: '2' })).toBe(1);
    expect(culpritF1({ a: '1' }, { a: '1', b: '2' })).toBeCloseTo(2 / 3, 6);
    expect(culpritF1({ a: '2' }, { a: '1' })).toBe(0);
  });
});
