import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, tally } from '../../src/scheduler/index.ts';
import type { TaskState } from '../../src/store/index.ts';

const cases: [string, TaskState[], string][] = [
  ['all_success', ['success', 'success'], 'run'],
  ['all_success', ['success', 'running'], 'wait'],
  ['all_success', ['failed', 'running'], 'upstream_failed'],
  ['all_success', ['success', 'skipped'], 'skipped'],
  ['all_success', ['upstream_failed'], 'upstream_failed'],
  ['all_done', ['failed', 'success', 'skipped'], 'run'],
  ['all_done', ['failed', 'queued'], 'wait'],
  ['all_failed', ['failed', 'upstream_failed'], 'run'],
  ['all_failed', ['failed', 'success'], 'skipped'],
  ['all_failed', ['failed', 'running'], 'wait'],
  ['one_success', ['success', 'running'], 'run'],
  ['one_success', ['failed', 'failed'], 'upstream_failed'],
  ['one_success', ['skipped', 'skipped'], 'skipped'],
  ['one_failed', ['failed', 'running'], 'run'],
  ['one_failed', ['success', 'success'], 'skipped'],
  ['none_failed', ['success', 'skipped'], 'run'],
  ['none_failed', ['success', 'failed'], 'upstream_failed'],
  ['none_failed', ['success', 'pending'], 'wait'],
];

for (const [rule, states, expected] of cases) {
  test(`${rule} with upstreams ${states.join(', ')} → ${expected}`, () => {
    assert.equal(decide(rule as Parameters<typeof decide>[0], tally(states)), expected);
  });
}
