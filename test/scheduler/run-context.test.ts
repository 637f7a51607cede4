// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the flow template syntax.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runContext } from '../../src/scheduler/resolve-task.ts';
import { evaluateTemplate, parseFlow, SpecError } from '../../src/spec/index.ts';

const facts = {
  runId: 'r1',
  flow: 'f',
  trigger: 'schedule',
  params: {},
  baseDir: '/',
};

it('a scheduled run sees its data interval, and run.date is the day in its zone', () => {
  // The interval of 2026-03-10 in Berlin: midnight to midnight local, 23:00 to 23:00 UTC.
  const start = Date.parse('2026-03-09T23:00:00Z');
  const ctx = runContext(
    {
      ...facts,
      logicalDate: start,
      intervalStart: start,
      intervalEnd: start + 86_400_000,
      timezone: 'Europe/Berlin',
    },
    {},
    {},
  );
  const render = (t: string) => evaluateTemplate(t, ctx);
  assert.equal(render('${{ run.date }}'), '2026-03-10');
  assert.equal(render('${{ run.interval_start }}'), '2026-03-09T23:00:00.000Z');
  assert.equal(render('${{ run.interval_end }}'), '2026-03-10T23:00:00.000Z');
  assert.equal(render('${{ run.logical_date }}'), '2026-03-09T23:00:00.000Z');
  assert.equal(render('${{ run.timezone }}'), 'Europe/Berlin');
});

it('a manual run has an empty interval at its logical date, and run.date in UTC', () => {
  const at = Date.parse('2026-03-09T23:30:00Z');
  const ctx = runContext({ ...facts, logicalDate: at }, {}, {});
  assert.equal(evaluateTemplate('${{ run.date }}', ctx), '2026-03-09');
  assert.equal(evaluateTemplate('${{ run.interval_start == run.interval_end }}', ctx), true);
});

it('a misspelt run key is a validation error with a suggestion', () => {
  const yaml = 'flow: f\ntasks:\n  a:\n    run: echo ${{ run.interval_strat }}\n';
  assert.throws(
    () => parseFlow(yaml, 'f.yaml'),
    (e: unknown) =>
      e instanceof SpecError &&
      /unknown name "run.interval_strat" \(did you mean "interval_start"\?\)/.test(e.message),
  );
});
