/**
 * The fault test (see test/chaos/chaos.ts) at a size that fits `npm test`: three
 * schedulers on a throwaway PostgreSQL, killed with SIGKILL at random moments and
 * restarted, the database restarted once. `npm run chaos` runs it at full size.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { FULL_SIZE, formatReport, runChaos } from './chaos/chaos.ts';

it('three schedulers, killed and restarted, with a PostgreSQL restart: nothing lost, nothing twice', async (t) => {
  const report = await runChaos({
    ...FULL_SIZE,
    tasks: 150,
    kills: 5,
    seed: Number(process.env.BATON_CHAOS_SEED ?? FULL_SIZE.seed),
  });
  t.diagnostic(formatReport(report));
  const context = `${formatReport(report)}\nfaults:\n  ${report.faults.join('\n  ')}`;
  assert.equal(report.tasks, 150, context);
  assert.equal(report.lost, 0, context);
  assert.equal(report.doubleStarts, 0, context);
  assert.equal(report.completed, 150, context);
  // No task fails on its own here, so no attempt should have been needed twice.
  assert.equal(report.retried, 0, context);
  assert.deepEqual(report.unexpectedExits, [], context);
  assert.ok(report.kills > 0, context);
  assert.equal(report.databaseRestarts, 1, context);
  // A killed scheduler's runs move within its lease (here sooner: its process is seen gone).
  assert.ok(Math.max(0, ...report.adoptMs) < FULL_SIZE.leaseMs + 2000, context);
});
