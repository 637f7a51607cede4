/**
 * The local executor's resources: CPU slots and a memory budget decide what starts, a
 * request that can never fit fails at once, and each attempt reports what it used (CPU
 * time always; peak memory and OOM kills where a memory cgroup could be made).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { createLocalExecutor, type Executor } from '../../src/executors/index.ts';
import { findMemoryCgroup, TaskCgroups } from '../../src/executors/local/task-cgroups.ts';
import { EventRecorder, makeTask, sh, tempRoot } from './helpers.ts';

const MiB = 1024 * 1024;
const root = tempRoot('baton-resources-');
const open: Executor[] = [];
after(() => root.dispose());
afterEach(async () => {
  for (const executor of open.splice(0)) await executor.close();
});

function start(options: { slots?: number; memoryBytes?: number } = {}) {
  const executor = createLocalExecutor({ journalDir: join(root.path, 'launchers'), ...options });
  open.push(executor);
  return { executor, events: new EventRecorder(executor) };
}

/** A task that appends `start <ms>` and `end <ms>` lines to `file` around a short sleep. */
function timed(file: string, name: string): string {
  const now = `$(date +%s%N)`;
  return `echo "${name} start ${now}" >> ${file}; sleep 0.3; echo "${name} end ${now}" >> ${file}`;
}

/** [start, end] in ns per name, from a file `timed` tasks wrote. */
function spans(file: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [name, what, at] = line.split(' ') as [string, string, string];
    const span = out.get(name) ?? [0, 0];
    span[what === 'start' ? 0 : 1] = Number(at);
    out.set(name, span);
  }
  return out;
}

function overlap(a: [number, number], b: [number, number]): boolean {
  return a[0] < b[1] && b[0] < a[1];
}

// The test process's own Node: no other runtime needs to be installed to allocate memory.
const allocate = (mib: number) =>
  `"${process.execPath}" -e "globalThis.b = Buffer.alloc(${mib} * 2 ** 20, 1)"`;

describe('local executor: resources', () => {
  test('two tasks whose memory requests exceed the budget together never overlap', async () => {
    const { executor, events } = start({ slots: 2, memoryBytes: 100 * MiB });
    const file = join(root.path, 'memory-spans');
    const a = makeTask(root.path, sh(timed(file, 'a')), { resources: { memoryBytes: 60 * MiB } });
    const b = makeTask(root.path, sh(timed(file, 'b')), { resources: { memoryBytes: 60 * MiB } });
    await executor.launch(a);
    assert.equal(executor.fits(b.resources).fits, 'later');
    await executor.launch(b);
    assert.equal((await events.finished(a.taskRunId)).exitCode, 0);
    assert.equal((await events.finished(b.taskRunId)).exitCode, 0);
    const s = spans(file);
    assert.ok(!overlap(s.get('a') ?? [0, 0], s.get('b') ?? [0, 0]), JSON.stringify([...s]));
  });

  test('tasks whose requests fit together run at the same time', async () => {
    const { executor, events } = start({ slots: 2, memoryBytes: 100 * MiB });
    const gate = join(root.path, 'gate-fit');
    const wait = `while [ ! -e ${gate} ]; do sleep 0.02; done`;
    const a = makeTask(root.path, sh(wait), { resources: { memoryBytes: 40 * MiB } });
    const b = makeTask(root.path, sh(wait), { resources: { memoryBytes: 40 * MiB } });
    await executor.launch(a);
    await executor.launch(b);
    // Both start although neither can end before the gate opens.
    await events.started(a.taskRunId);
    await events.started(b.taskRunId);
    writeFileSync(gate, '');
    await events.finished(a.taskRunId);
    await events.finished(b.taskRunId);
  });

  test('a task asking for 2 CPUs takes 2 of the slots', async () => {
    const { executor, events } = start({ slots: 2 });
    const file = join(root.path, 'cpu-spans');
    const wide = makeTask(root.path, sh(timed(file, 'wide')), { resources: { cpu: 2 } });
    const one = makeTask(root.path, sh(timed(file, 'one')));
    const two = makeTask(root.path, sh(timed(file, 'two')));
    await executor.launch(one);
    await executor.launch(wide);
    await executor.launch(two);
    for (const t of [one, wide, two])
      assert.equal((await events.finished(t.taskRunId)).exitCode, 0);
    const s = spans(file);
    const w = s.get('wide') ?? [0, 0];
    assert.ok(!overlap(w, s.get('one') ?? [0, 0]), 'wide ran beside one');
    assert.ok(!overlap(w, s.get('two') ?? [0, 0]), 'wide ran beside two');
    // In order: `two` waited behind `wide` rather than slipping past it.
    assert.ok((s.get('two') ?? [0, 0])[0] >= w[1], 'two overtook wide');
  });

  test('a request that can never fit fails at once, naming both numbers', async () => {
    const { executor, events } = start({ slots: 2, memoryBytes: 512 * MiB });
    assert.deepEqual(executor.fits({ memoryBytes: 1024 * MiB }), {
      fits: 'never',
      message:
        "needs 1 GiB of memory but the executor's memory budget is 512 MiB (--memory); it can never start",
    });
    assert.equal(executor.fits({ cpu: 3 }).fits, 'never');
    assert.match(
      (executor.fits({ cpu: 3 }) as { message: string }).message,
      /needs 3 CPUs but the executor has 2 slots/,
    );
    const huge = makeTask(root.path, sh('touch ran'), { resources: { memoryBytes: 1024 * MiB } });
    await executor.launch(huge);
    const finished = await events.finished(huge.taskRunId);
    assert.equal(finished.reason, 'unschedulable');
    assert.match(finished.message ?? '', /needs 1 GiB of memory .* budget is 512 MiB/);
    assert.equal(
      events.events.some((e) => e.type === 'started' && e.taskRunId === huge.taskRunId),
      false,
    );
  });

  test('each attempt reports its CPU time and, with a memory cgroup, its peak memory', async () => {
    const { executor, events } = start({ slots: 1 });
    const task = makeTask(root.path, sh(allocate(100)));
    await executor.launch(task);
    const finished = await events.finished(task.taskRunId);
    assert.equal(finished.exitCode, 0);
    // Node starting and filling 100 MiB takes CPU; `times` counts it in milliseconds.
    assert.ok((finished.usage?.cpuMs ?? 0) > 0, JSON.stringify(finished.usage));
    if (findMemoryCgroup() === null) {
      // No cgroup to read (documented): no peak rather than a wrong one.
      assert.equal(finished.usage?.peakMemoryBytes, undefined);
    } else {
      assert.ok(
        (finished.usage?.peakMemoryBytes ?? 0) >= 100 * MiB,
        `peak ${finished.usage?.peakMemoryBytes}`,
      );
    }
    // The next attempt in the same launcher starts from a fresh peak.
    const small = makeTask(root.path, sh('true'));
    await executor.launch(small);
    const second = await events.finished(small.taskRunId);
    if (second.usage?.peakMemoryBytes !== undefined)
      assert.ok(second.usage.peakMemoryBytes < 50 * MiB, `peak ${second.usage.peakMemoryBytes}`);
  });

  test('a task over its memory request is killed by the OOM killer and reported as oom_killed', async () => {
    const { executor, events } = start({ slots: 1 });
    const task = makeTask(root.path, sh(allocate(200)), { resources: { memoryBytes: 64 * MiB } });
    await executor.launch(task);
    const finished = await events.finished(task.taskRunId);
    if (findMemoryCgroup() === null) {
      // Without a cgroup the request is not a limit (documented): the task simply runs.
      assert.equal(finished.exitCode, 0);
      return;
    }
    assert.equal(finished.reason, 'oom_killed');
    assert.equal(finished.signal, 'SIGKILL');
    assert.match(
      finished.message ?? '',
      /OOM killer: the task's memory limit is its request, 64 MiB/,
    );
  });
});

describe('memory cgroup discovery', () => {
  /** A fake /proc/self with the given cgroup and mountinfo files. */
  function fakeProc(name: string, cgroup: string, mountinfo: string): string {
    const dir = join(root.path, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup'), cgroup);
    writeFileSync(join(dir, 'mountinfo'), mountinfo);
    return dir;
  }

  test('finds cgroup v1 memory under its mount (a hybrid layout: v1 memory beside a v2 without it)', () => {
    const proc = fakeProc(
      'v1',
      '9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n',
      [
        '30 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
        '31 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
      ].join('\n'),
    );
    const found = findMemoryCgroup(proc);
    assert.equal(found?.dir, '/sys/fs/cgroup/memory/process_api/abc');
  });

  test('finds nothing without a memory controller', () => {
    const proc = fakeProc(
      'none',
      '0::/user.slice\n',
      '31 25 0:27 / /nonexistent/cgroup rw,relatime - cgroup2 cgroup2 rw\n',
    );
    assert.equal(findMemoryCgroup(proc), null);
  });

  test('on this machine: a cgroup is made, counted and removed again', async () => {
    const cgroups = TaskCgroups.open();
    if (cgroups === null) {
      assert.equal(findMemoryCgroup(), null);
      return;
    }
    assert.ok(cgroups.cleanUp(), 'an empty executor cgroup is removed');
  });
});
