/**
 * Local executor overhead against ninja: 5,000 `true` tasks at 2 slots, each started when
 * a slot frees (as the scheduler does), then the same count with `ninja -j2` when ninja is
 * on PATH. Prints ms/task and the ratio. Usage: node bench/local-executor.ts [count] [slots]
 */

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalExecutor, type ResolvedTask } from '../src/executors/index.ts';

const count = Number(process.argv[2] ?? 5000);
const slots = Number(process.argv[3] ?? 2);
const root = mkdtempSync(join(tmpdir(), 'baton-bench-local-'));

function task(i: number): ResolvedTask {
  const attemptDir = join(root, 'attempts', String(i));
  return {
    taskRunId: i,
    runId: 'bench',
    flow: 'bench',
    taskId: `t${i}`,
    mapIndex: -1,
    attempt: 1,
    // ninja runs `command = true` as `/bin/sh -c true`: the same work.
    command: { kind: 'shell', script: 'true' },
    env: {
      BATON_RUN_ID: 'bench',
      BATON_FLOW: 'bench',
      BATON_TASK: `t${i}`,
      BATON_ATTEMPT: '1',
      BATON_OUTPUT: join(attemptDir, 'output'),
    },
    workdir: root,
    attemptDir,
    logPath: join(attemptDir, 'log'),
    resources: {},
  };
}

async function runBaton(): Promise<number> {
  // The scheduler creates attempt directories (run-controller.ts) before launching; that
  // cost belongs to it, measured on its own here.
  const mkdirStartMs = performance.now();
  for (let i = 0; i < count; i++) mkdirSync(task(i).attemptDir, { recursive: true });
  console.log(
    `attempt directories (scheduler's cost): ${((performance.now() - mkdirStartMs) / count).toFixed(3)} ms/task`,
  );
  const cpuBefore = process.cpuUsage();
  const executor = createLocalExecutor({ slots });
  const startMs = performance.now();
  let launched = 0;
  let finished = 0;
  const fill = async (): Promise<void> => {
    while (launched < count && executor.capacity().freeSlots > 0)
      await executor.launch(task(launched++));
  };
  await fill();
  for await (const event of executor.events()) {
    if (event.type !== 'finished') continue;
    if (event.exitCode !== 0)
      throw new Error(`task ${event.taskRunId} failed: ${JSON.stringify(event)}`);
    if (++finished === count) break;
    await fill();
  }
  const elapsedMs = performance.now() - startMs;
  await executor.close();
  const cpu = process.cpuUsage(cpuBefore);
  console.log(`node process CPU: ${((cpu.user + cpu.system) / 1000 / count).toFixed(3)} ms/task`);
  return elapsedMs;
}

function runNinja(): number | null {
  if (spawnSync('ninja', ['--version']).status !== 0) return null;
  const dir = join(root, 'ninja');
  mkdirSync(dir);
  const edges = Array.from({ length: count }, (_, i) => `build o${i}: r\n`).join('');
  writeFileSync(join(dir, 'build.ninja'), `rule r\n  command = true\n${edges}`);
  const startMs = performance.now();
  const result = spawnSync('ninja', ['-j', String(slots)], { cwd: dir, stdio: 'ignore' });
  if (result.status !== 0) throw new Error('ninja failed');
  return performance.now() - startMs;
}

try {
  const batonMs = await runBaton();
  const ninjaMs = runNinja();
  const perTask = (ms: number): string => `${(ms / count).toFixed(3)} ms/task`;
  console.log(
    `baton local: ${count} tasks, ${slots} slots: ${batonMs.toFixed(0)} ms, ${perTask(batonMs)}`,
  );
  if (ninjaMs === null) console.log('ninja: not on PATH, no comparison');
  else {
    console.log(`ninja -j${slots}:  ${count} tasks: ${ninjaMs.toFixed(0)} ms, ${perTask(ninjaMs)}`);
    console.log(`ratio baton/ninja: ${(batonMs / ninjaMs).toFixed(2)}`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
