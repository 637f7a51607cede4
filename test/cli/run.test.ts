import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  collect,
  processesOfRun,
  readLines,
  runBaton,
  runIdFrom,
  showRun,
  startBaton,
  tempProject,
  waitForFile,
  waitForOutput,
  writeFlow,
} from '../helpers/cli.ts';

/** Final state of each task (latest attempt, unmapped row) from `baton show --json`. */
function finalStates(show: Awaited<ReturnType<typeof showRun>>): Record<string, string> {
  const out: Record<string, string> = {};
  const best = new Map<string, number>();
  for (const t of show.taskRuns) {
    if (t.mapIndex !== -1) continue;
    if ((best.get(t.taskId) ?? 0) <= t.attempt) {
      best.set(t.taskId, t.attempt);
      out[t.taskId] = t.state;
    }
  }
  return out;
}

describe('baton run', () => {
  test('every trigger rule decides as documented, and the run fails because a task failed', async () => {
    const dir = tempProject();
    const flow = writeFlow(
      dir,
      'rules',
      `flow: rules
tasks:
  ok: { run: "true" }
  bad: { run: "exit 3" }
  never: { if: "false", run: "true" }
  all_success_after_bad: { needs: [ok, bad], run: "true" }
  chain_after_upstream_failed: { needs: [all_success_after_bad], run: "true" }
  all_success_after_skip: { needs: [never], run: "true" }
  all_done: { needs: [ok, bad], trigger: all_done, run: "true" }
  all_failed: { needs: [bad], trigger: all_failed, run: "true" }
  all_failed_mixed: { needs: [ok, bad], trigger: all_failed, run: "true" }
  one_success: { needs: [ok, bad], trigger: one_success, run: "true" }
  one_failed: { needs: [ok, bad], trigger: one_failed, run: "true" }
  one_failed_none: { needs: [ok], trigger: one_failed, run: "true" }
  none_failed_with_skip: { needs: [ok, never], trigger: none_failed, run: "true" }
  none_failed_after_bad: { needs: [bad], trigger: none_failed, run: "true" }
`,
    );
    const r = await runBaton(['run', flow], dir);
    assert.equal(r.code, 1, r.stderr);
    const show = await showRun(dir, runIdFrom(r.stderr));
    assert.equal(show.run.state, 'failed');
    assert.deepEqual(finalStates(show), {
      ok: 'success',
      bad: 'failed',
      never: 'skipped',
      all_success_after_bad: 'upstream_failed',
      chain_after_upstream_failed: 'upstream_failed',
      all_success_after_skip: 'skipped',
      all_done: 'success',
      all_failed: 'success',
      all_failed_mixed: 'skipped',
      one_success: 'success',
      one_failed: 'success',
      one_failed_none: 'skipped',
      none_failed_with_skip: 'success',
      none_failed_after_bad: 'upstream_failed',
    });
    const bad = show.taskRuns.find((t) => t.taskId === 'bad');
    assert.equal(bad?.exitCode, 3);
    assert.equal(bad?.message, 'exited with code 3');
  });

  test('a flaky task is retried and succeeds; outputs feed a map whose outputs fan back in', async () => {
    const dir = tempProject();
    const flow = writeFlow(
      dir,
      'retry',
      `flow: retry
tasks:
  flaky:
    retries: 2
    retry_delay: 0.1s
    run: 'if [ "$BATON_ATTEMPT" -lt 2 ]; then echo "transient failure" >&2; exit 1; fi; echo "{\\"output\\": {\\"n\\": 2}}" >> "$BATON_OUTPUT"'
  fan:
    needs: [flaky]
    map: \${{ range(tasks.flaky.outputs.n * 2) }}
    run: 'echo "{\\"output\\": {\\"sq\\": $(( BATON_MAP_INDEX * BATON_MAP_INDEX )), \\"item\\": $BATON_ITEM}}" >> "$BATON_OUTPUT"'
  join:
    needs: [fan]
    run: |
      echo "{\\"output\\": {\\"all\\": \${{ tasks.fan.outputs }}, \\"n\\": \${{ tasks.flaky.outputs.n * 3 }}}}" >> "$BATON_OUTPUT"
`,
    );
    const r = await runBaton(['run', flow], dir);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const show = await showRun(dir, runIdFrom(r.stderr));
    const flaky = show.taskRuns
      .filter((t) => t.taskId === 'flaky')
      .sort((a, b) => a.attempt - b.attempt);
    assert.deepEqual(
      flaky.map((t) => [t.attempt, t.state]),
      [
        [1, 'up_for_retry'],
        [2, 'success'],
      ],
    );
    const join = show.taskRuns.find((t) => t.taskId === 'join');
    assert.deepEqual(join?.outputs, {
      all: [
        { sq: 0, item: 0 },
        { sq: 1, item: 1 },
        { sq: 4, item: 2 },
        { sq: 9, item: 3 },
      ],
      n: 6,
    });
    const logs = await runBaton(['logs', show.run.id, 'flaky', '--attempt', '1'], dir);
    assert.equal(logs.stdout, 'transient failure\n');
  });

  test('a timeout kills the whole process tree of the task and is recorded as such', async () => {
    const dir = tempProject();
    const flow = writeFlow(
      dir,
      'slow',
      `flow: slow
tasks:
  sleepy:
    timeout: 1s
    run: 'sleep 300 & sleep 300 & echo started; wait'
`,
    );
    const r = await runBaton(['run', flow], dir);
    assert.equal(r.code, 1, r.stderr);
    const runId = runIdFrom(r.stderr);
    const show = await showRun(dir, runId);
    const t = show.taskRuns[0];
    assert.equal(t?.state, 'failed');
    assert.equal(t?.reason, 'timeout');
    assert.deepEqual(processesOfRun(runId), []);
  });

  test('a task printing 300 MB keeps its log capped and the orchestrator small', async () => {
    const dir = tempProject();
    const flow = writeFlow(
      dir,
      'loud',
      `flow: loud
tasks:
  loud: { run: "head -c 300000000 /dev/zero; echo done" }
  after: { needs: [loud], run: "echo fine" }
`,
    );
    const child = startBaton(['run', flow], dir);
    let peakKb = 0;
    const sampler = setInterval(() => {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        peakKb = Math.max(peakKb, Number(m?.[1] ?? 0));
      } catch {}
    }, 50);
    const r = await collect(child);
    clearInterval(sampler);
    assert.equal(r.code, 0, r.stderr);
    const runId = runIdFrom(r.stderr);
    const log = join(dir, '.baton/runs', runId, 'loud.1.log');
    const size = statSync(log).size;
    assert.ok(size < 70 * 1024 * 1024, `log is ${size} bytes`);
    assert.match(readFileSync(log, 'latin1').slice(-300), /truncated/);
    assert.ok(peakKb > 0 && peakKb < 150 * 1024, `orchestrator peak RSS ${peakKb} KiB`);
  });

  test('kill -9 mid-run, then --resume: finished tasks are not re-run, running ones are adopted', async () => {
    const dir = tempProject();
    const ledger = join(dir, 'ledger');
    const step = (name: string, waitFor?: string) =>
      `'echo "start ${name} $$" >> ${ledger}; ${waitFor ? `while [ ! -e ${join(dir, waitFor)} ]; do sleep 0.05; done; ` : ''}echo "end ${name}" >> ${ledger}'`;
    const flow = writeFlow(
      dir,
      'crash',
      `flow: crash
tasks:
  first: { run: ${step('first')} }
  long_a: { needs: [first], run: ${step('long_a', 'release_a')} }
  long_b: { needs: [first], run: ${step('long_b', 'release_b')} }
  last: { needs: [long_a, long_b], run: ${step('last')} }
`,
    );
    const child = startBaton(['run', flow, '--parallelism', '4'], dir);
    const done = collect(child);
    const headerSeen = waitForOutput(child, /as run \S+/);
    await waitForFile(
      dir,
      () => readLines(ledger).filter((l) => /^start long_/.test(l)).length === 2,
      'both long tasks to start',
    );
    const header = await headerSeen;
    child.kill('SIGKILL');
    await done;
    const runId = runIdFrom(header);
    // While nobody watches, long_a finishes; long_b keeps running.
    writeFileSync(join(dir, 'release_a'), '');
    await waitForFile(dir, () => readLines(ledger).includes('end long_a'), 'long_a to finish');

    const resumed = startBaton(['run', '--resume', runId], dir);
    const resumedDone = collect(resumed);
    await waitForOutput(resumed, /Resuming/);
    writeFileSync(join(dir, 'release_b'), '');
    const r = await resumedDone;
    assert.equal(r.code, 0, r.stderr + r.stdout);

    const starts = readLines(ledger).filter((l) => l.startsWith('start'));
    assert.deepEqual(starts.map((l) => l.split(' ')[1]).sort(), [
      'first',
      'last',
      'long_a',
      'long_b',
    ]);
    const show = await showRun(dir, runId);
    assert.equal(show.run.state, 'success');
    assert.ok(show.taskRuns.every((t) => t.attempt === 1 && t.state === 'success'));
    assert.ok(show.events.some((e) => e.kind === 'adopted'));
    assert.deepEqual(processesOfRun(runId), []);
  });

  test('Ctrl-C cancels the run: tasks are killed and everything is recorded as cancelled', async () => {
    const dir = tempProject();
    const flow = writeFlow(
      dir,
      'cancel',
      `flow: cancel
tasks:
  long: { run: "sleep 300" }
  after: { needs: [long], run: "true" }
`,
    );
    const child = startBaton(['run', flow], dir);
    const done = collect(child);
    const header = await waitForOutput(child, /long\s+running/);
    assert.ok(header);
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    const runId = runIdFrom(r.stderr);
    const show = await showRun(dir, runId);
    assert.equal(show.run.state, 'cancelled');
    assert.deepEqual(finalStates(show), { long: 'cancelled', after: 'cancelled' });
    assert.deepEqual(processesOfRun(runId), []);
  });
});

describe('baton run: bad input is refused before anything runs', () => {
  const dir = tempProject();
  const flow = writeFlow(
    dir,
    'params',
    `flow: params
params:
  region: { type: string, default: eu, enum: [eu, us] }
  days: { type: int, default: 1 }
tasks:
  hello: { run: "echo \${{ params.region }}" }
`,
  );

  const cases: [string, string[], RegExp][] = [
    [
      'an unknown parameter',
      ['-p', 'regoin=us'],
      /unknown parameter "regoin" for flow "params" \(did you mean "region"\?\)/,
    ],
    [
      'a value outside the enum',
      ['-p', 'region=asia'],
      /parameter "region" must be one of "eu", "us", got "asia"/,
    ],
    ['a non-integer', ['-p', 'days=two'], /parameter "days" must be an integer, got "two"/],
    ['a malformed -p', ['-p', 'region'], /-p expects key=value, got "region"/],
    [
      'a zero parallelism',
      ['--parallelism', '0'],
      /--parallelism must be a positive integer, got "0"/,
    ],
    ['an unknown flag', ['--paralelism', '2'], /Unknown option '--paralelism'/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what}: exit 2 and a message naming it`, async () => {
      const r = await runBaton(['run', flow, ...args], dir);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(existsSync(join(dir, '.baton/runs')), false);
    });
  }

  test('a flow that does not exist', async () => {
    const r = await runBaton(['run', 'nope'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no flow file "nope" and no flow named "nope"/);
  });

  test('an invalid flow file: file:line:col and exit 2', async () => {
    const bad = writeFlow(dir, 'bad', 'flow: bad\ntasks:\n  a: { run: "true", retires: 2 }\n');
    const r = await runBaton(['run', bad], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:3:\d+: .*"retires".*did you mean "retries"/);
  });
});
