// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${{ }} templates are what these tests are about

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpressionError } from '../../src/spec/errors.ts';
import {
  type ExprContext,
  evaluateExpression,
  evaluateTemplate,
  renderText,
} from '../../src/spec/expr.ts';

const ctx: ExprContext = {
  params: { region: 'eu', limit: 10, ratio: 0.5 },
  run: {
    id: 'r1',
    date: '2026-11-02',
    logical_date: '2026-11-02T06:00:00.000Z',
    trigger: 'schedule',
  },
  tasks: { a: { outputs: { rows: 120, path: 's3://b/x.parquet', n: 2 } } },
  assets: { raw: { bytes: 7_340_032, partitions: ['2026-11-01', '2026-11-02'] } },
};

function fails(f: () => unknown, message: string | RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ExpressionError, `expected ExpressionError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('evaluating expressions', () => {
  it('does int arithmetic on integers that came from JSON', () => {
    assert.equal(evaluateTemplate('${{ tasks.a.outputs.n * 3 }}', ctx), 6);
    assert.equal(evaluateTemplate('${{ params.limit + 1 }}', ctx), 11);
    // int / int truncates, as CEL defines it; a double operand gives a fraction.
    assert.equal(evaluateExpression('7 / 2', ctx), 3);
    assert.equal(evaluateExpression('7 / 2.0', ctx), 3.5);
  });

  it('mixes ints and doubles in arithmetic and comparison', () => {
    assert.equal(evaluateExpression('params.limit * params.ratio', ctx), 5);
    assert.equal(evaluateExpression('params.ratio + 1', ctx), 1.5);
    assert.equal(evaluateExpression('1 * 2.5', ctx), 2.5);
    assert.equal(evaluateExpression('params.limit > 9.5', ctx), true);
    assert.equal(evaluateExpression('2 == 2.0', ctx), true);
  });

  it('knows sizes and durations as ints', () => {
    assert.equal(evaluateTemplate('${{ 256 * MiB }}', ctx), 268_435_456);
    assert.equal(evaluateExpression('KiB + GiB', ctx), 1024 + 1024 ** 3);
    assert.equal(evaluateExpression('TiB / GiB', ctx), 1024);
    assert.equal(evaluateExpression('90 * m > h', ctx), true);
    assert.equal(evaluateExpression('30 * s < m', ctx), true);
    assert.equal(evaluateExpression('2 * h', ctx), 7_200_000);
  });

  it('sizes memory from asset metadata', () => {
    const memory = '${{ max(256 * MiB, assets.raw.bytes * 3 / size(assets.raw.partitions)) }}';
    assert.equal(evaluateTemplate(memory, ctx), 268_435_456);
    const big = { ...ctx, assets: { raw: { bytes: 1_000_000_000, partitions: ['a', 'b'] } } };
    assert.equal(evaluateTemplate(memory, big), 1_500_000_000);
  });

  it('has max, min, ceil, floor, round, range, string, int, double', () => {
    assert.equal(evaluateExpression('max(1, 2.5, 2)', ctx), 2.5);
    assert.equal(evaluateExpression('min(3, 2.5, 4)', ctx), 2.5);
    assert.equal(evaluateExpression('max([4, 9, 1])', ctx), 9);
    assert.equal(evaluateExpression('ceil(2.1)', ctx), 3);
    assert.equal(evaluateExpression('floor(2.9)', ctx), 2);
    assert.equal(evaluateExpression('round(2.5)', ctx), 3);
    assert.equal(evaluateExpression('ceil(params.limit / 3.0)', ctx), 4);
    assert.deepEqual(evaluateExpression('range(3)', ctx), [0, 1, 2]);
    assert.deepEqual(evaluateExpression('range(3).map(i, i * 10)', ctx), [0, 10, 20]);
    assert.equal(evaluateExpression('string(params.limit) + "x"', ctx), '10x');
    assert.equal(evaluateExpression('string([1, "a"])', ctx), '[1,"a"]');
    assert.equal(evaluateExpression('int("42") + 1', ctx), 43);
    assert.equal(evaluateExpression('double(params.limit) / 4', ctx), 2.5);
    assert.equal(evaluateExpression('size(assets.raw.partitions)', ctx), 2);
  });

  it('returns lists and maps as JSON values', () => {
    assert.deepEqual(evaluateTemplate(' ${{ assets.raw.partitions }} ', ctx), [
      '2026-11-01',
      '2026-11-02',
    ]);
    assert.deepEqual(
      evaluateTemplate('${{ {"n": tasks.a.outputs.n, "l": [1, 2.5, null]} }}', ctx),
      {
        n: 2,
        l: [1, 2.5, null],
      },
    );
  });

  it('renders text: strings as is, numbers, null as empty, lists and maps as JSON', () => {
    assert.equal(
      renderText('--region ${{ params.region }} --day ${{ run.date }}', ctx),
      '--region eu --day 2026-11-02',
    );
    assert.equal(
      renderText('n=${{ tasks.a.outputs.n * 3 }} r=${{ params.ratio }} b=${{ 1 < 2 }}', ctx),
      'n=6 r=0.5 b=true',
    );
    assert.equal(renderText('[${{ null }}]', ctx), '[]');
    assert.equal(
      renderText('p=${{ assets.raw.partitions }}', ctx),
      'p=["2026-11-01","2026-11-02"]',
    );
    assert.equal(renderText('m=${{ {"a": 1} }}', ctx), 'm={"a":1}');
    assert.equal(evaluateTemplate('x ${{ params.limit }}', ctx), 'x 10');
    assert.equal(renderText('no templates', ctx), 'no templates');
  });

  it('does not end a template at }} inside a string or a map', () => {
    assert.equal(renderText('a ${{ "}}" + params.region }} b', ctx), 'a }}eu b');
    assert.deepEqual(evaluateTemplate('${{ {"a": {"b": 1}} }}', ctx), { a: { b: 1 } });
  });

  it('accepts an expression wrapped in ${{ }} where a bare one is expected', () => {
    assert.equal(evaluateExpression('${{ params.region == "eu" }}', ctx), true);
  });

  it('sees item, index, attempt and env only when given', () => {
    const mapped = {
      ...ctx,
      item: { day: '2026-11-01' },
      index: 3,
      attempt: 2,
      env: { HOME: '/h' },
    };
    assert.equal(
      renderText('${{ item.day }}/${{ index }}/${{ attempt }}/${{ env.HOME }}', mapped),
      '2026-11-01/3/2//h',
    );
    fails(
      () => evaluateTemplate('${{ item.day }}', ctx),
      '${{ item.day }}: "item" is only available in a task with map',
    );
    fails(
      () => evaluateTemplate('${{ env.HOME }}', ctx),
      '${{ env.HOME }}: "env" is not available here',
    );
  });

  it('names the expression and the missing key', () => {
    fails(
      () => evaluateTemplate('${{ tasks.a.outputs.nn }}', ctx),
      '${{ tasks.a.outputs.nn }}: tasks.a.outputs has no key "nn" (keys: rows, path, n)',
    );
    fails(
      () => renderText('x ${{ params["nope"] }}', ctx),
      /^\$\{\{ params\["nope"\] \}\}: params has no key "nope" \(keys: region, limit, ratio\)$/,
    );
    fails(
      () => evaluateTemplate('${{ tasks.b.outputs.n }}', ctx),
      '${{ tasks.b.outputs.n }}: tasks has no key "b" (keys: a)',
    );
    fails(
      () => evaluateExpression('params.limit / 0', ctx),
      'expression "params.limit / 0": division by zero',
    );
    fails(
      () => evaluateExpression('params.region * 2', ctx),
      /^expression "params.region \* 2": no such overload/,
    );
    fails(() => evaluateExpression('1 +', ctx), 'invalid expression "1 +": Unexpected token: EOF');
    fails(
      () => renderText('a ${{ params.region', ctx),
      'invalid expression "params.region": missing "}}"',
    );
  });

  it('refuses an int too large for a JSON number', () => {
    fails(
      () => evaluateExpression('9007199254740993', ctx),
      /too large to pass on as a JSON number/,
    );
    assert.equal(evaluateExpression('9007199254740991', ctx), Number.MAX_SAFE_INTEGER);
  });

  it('does not expose JavaScript object internals', () => {
    fails(() => evaluateExpression('params.constructor', ctx), /params has no key "constructor"/);
    fails(() => evaluateExpression('params.__proto__', ctx), /params has no key "__proto__"/);
  });
});
