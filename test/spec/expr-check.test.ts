// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${{ }} templates are what these tests are about

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkExpression, checkTemplate, type ExprScope } from '../../src/spec/expr.ts';

const scope: ExprScope = {
  params: ['region', 'limit'],
  upstream: ['extract'],
  allTasks: ['extract', 'clean', 'report'],
  inMap: false,
  envAllowed: false,
};

const messages = (text: string, s: ExprScope = scope): string[] =>
  checkTemplate(text, s).map((p) => p.message);

describe('checking expressions', () => {
  it('accepts what the flow declares', () => {
    const ok = [
      '${{ params.region }} ${{ run.date }} ${{ tasks.extract.outputs.path }} ${{ assets.raw.bytes }}',
      '${{ max(256 * MiB, assets.raw.bytes * 3 / size(assets.raw.partitions)) }}',
      '${{ attempt > 1 ? 2 * h : 30 * s }}',
      '${{ assets.raw.partitions.map(p, p + "/") }} ${{ cel.bind(x, 3, x * KiB) }}',
      '${{ tasks["extract"].outputs }} ${{ has(params.region) }} ${{ "params.nope tasks.x" }}',
    ];
    for (const text of ok) assert.deepEqual(checkTemplate(text, scope), [], text);
  });

  it('reports each problem at the offset of its ${{', () => {
    const text = 'a ${{ params.regoin }} b ${{ tasks.clean.outputs }} ${{ tasks.nope }}';
    assert.deepEqual(checkTemplate(text, scope), [
      { offset: 2, message: 'unknown parameter "params.regoin" (did you mean "region"?)' },
      { offset: 25, message: '"tasks.clean" is not upstream of this task (add it to needs)' },
      { offset: 52, message: 'unknown task "tasks.nope"' },
    ]);
  });

  it('drops the suggestion when no parameter is close', () => {
    assert.deepEqual(messages('${{ params.zzzzzz }}'), ['unknown parameter "params.zzzzzz"']);
  });

  it('reports parse errors with the expression', () => {
    assert.deepEqual(checkTemplate('x ${{ 1 + }}', scope), [
      { offset: 2, message: 'invalid expression "1 +": Unexpected token: EOF' },
    ]);
    assert.deepEqual(messages('x ${{ params.region'), [
      'invalid expression "params.region": missing "}}"',
    ]);
  });

  it('reports unknown names, item/index outside a map and env where not allowed', () => {
    assert.deepEqual(messages('${{ foo + 1 }}'), [
      'unknown name "foo" (available: params, run, tasks, assets, item, index, attempt, last_failure)',
    ]);
    assert.deepEqual(messages('${{ item }} ${{ index }}'), [
      '"item" is only available in a task with map',
      '"index" is only available in a task with map',
    ]);
    assert.deepEqual(messages('${{ env.HOME }}'), ['"env" is not available here']);
    assert.deepEqual(
      messages('${{ item.x + index }} ${{ env.HOME }}', {
        ...scope,
        inMap: true,
        envAllowed: true,
      }),
      [],
    );
  });

  it('does not take macro variables for context names', () => {
    assert.deepEqual(messages('${{ [1, 2].map(x, x * 2) }} ${{ [1].exists(y, y == foo) }}'), [
      'unknown name "foo" (available: params, run, tasks, assets, item, index, attempt, last_failure)',
    ]);
  });

  it('checks bare expressions with offset 0, also when wrapped in ${{ }}', () => {
    assert.deepEqual(checkExpression('params.nope == "x"', scope), [
      { offset: 0, message: 'unknown parameter "params.nope"' },
    ]);
    assert.deepEqual(checkExpression('${{ params.region == "eu" }}', scope), []);
  });

  // How fast is `npm run bench`'s business (baton validate of a 10,000-task flow).
  it('finds no problem in the expressions of a valid 10,000-task flow', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `t${i}`);
    let problems = 0;
    for (let i = 0; i < ids.length; i++) {
      const s: ExprScope = { ...scope, upstream: ids.slice(Math.max(0, i - 3), i), allTasks: ids };
      const up = i > 0 ? `\${{ tasks.t${i - 1}.outputs.n * 2 }}` : '';
      problems += checkTemplate(
        `./run --day \${{ run.date }} --region \${{ params.region }} ${up}`,
        s,
      ).length;
      problems += checkExpression(`params.limit > ${i % 7}`, s).length;
    }
    assert.equal(problems, 0);
  });
});
