// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the flow template syntax.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expr, Ref } from '../../src/sdk/index.ts';
import { type ExprContext, evaluateExpression } from '../../src/spec/index.ts';

const ctx: ExprContext = {
  params: { region: 'eu' },
  run: {},
  tasks: { 'load-db': { outputs: { 'row-count': 7, rates: { eu: 0.5 } } } },
  assets: {},
};

test('values written into expressions come back as they were', () => {
  const values = [
    'plain',
    'quotes " and \' and \\ and\nnewlines\tand }} and ${{ x }}',
    'unicode: é ✓ \u2028',
    0,
    -5,
    0.1,
    1e21,
    true,
    null,
    [1, 'two', [3]],
    { a: { 'b-c': [true] } },
  ];
  for (const value of values) {
    assert.deepEqual(evaluateExpression(expr`${value}`.expr, ctx), value, JSON.stringify(value));
  }
});

test('references keep their meaning inside larger expressions', () => {
  const rows = new Ref<number>('tasks["load-db"].outputs["row-count"]');
  const sum = expr<number>`${rows} + 1`;
  assert.equal(evaluateExpression(expr`${sum} * 2`.expr, ctx), 16);
  const rates = new Ref<Record<string, number>>('tasks["load-db"].outputs.rates');
  const region = new Ref<'eu'>('params.region');
  assert.equal(rates.get(region).expr, 'tasks["load-db"].outputs.rates[params.region]');
  assert.equal(evaluateExpression(rates.get(region).expr, ctx), 0.5);
  assert.equal(String(sum), '${{ tasks["load-db"].outputs["row-count"] + 1 }}');
});
