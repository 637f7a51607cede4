/**
 * Local executor overhead against ninja: 5,000 `true` tasks at 2 slots, each started when
 * a slot frees (as the scheduler does), then the same count with `ninja -j2` when ninja is
 * on PATH. Logs and outputs are flat files in one run directory, as the scheduler lays
 * them out. Prints wall and CPU (Node, and Node + launchers + tasks) per task, and the
 * ratios. Usage: node bench/local-executor.ts [count] [slots]
 */

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalExecutor, type ResolvedTask } from '../src/executors/index.ts';

const count = Number(process.argv[2] ?? 5000);
const slots = Number(process.argv[3] ?? 2);
const root = mkdtempSync(join(tmpdir(), 'baton-bench-local-'));
const runDir = join(root, 'runs', 'bench');

function task(i: number): ResolvedTask {
  const outputPath = join(runDir, `t${i}.1.out`);
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
      BATON_OUTPUT: outputPath,
    },
    workdir: root,
    outputPath,
    logPath: join(runDir, `t${i}.1.log`),
    resources: {},
  };
}

/** CPU ms of this process and of its reaped children (launchers, tasks, ninja). */
function cpuMs(): { self: number; children: number } {
  // /proc/self/stat fields 14–17: utime, stime, cutime, cstime, in clock ticks (10 ms).
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = (i: number): number => Number(fields[i - 3]);
  const self = process.cpuUsage();
  return { self: (self.user + self.system) / 1000, children: (ticks(16) + ticks(17)) * 10 };
}

interface Result {
  wallMs: number;
  selfCpuMs: number;
  totalCpuMs: number;
}

async function runBaton(): Promise<Result> {
  // The scheduler creates the run directory once.
  mkdirSync(runDir, { recursive: true });
  const before = cpuMs();
  const executor = createLocalExecutor({ slots, journalDir: join(root, 'launchers') });
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
  const wallMs = performance.now() - startMs;
  await executor.close();
  // Launchers exit on EOF; their CPU (and their tasks') is counted once Node reaps them.
  await sleep(300);
  const after = cpuMs();
  const selfCpuMs = after.self - before.self;
  return { wallMs, selfCpuMs, totalCpuMs: selfCpuMs + after.children - before.children };
}

function runNinja(): Result | null {
  if (spawnSync('ninja', ['--version']).status !== 0) return null;
  const dir = join(root, 'ninja');
  mkdirSync(dir);
  const edges = Array.from({ length: count }, (_, i) => `build o${i}: r\n`).join('');
  writeFileSync(join(dir, 'build.ninja'), `rule r\n  command = true\n${edges}`);
  const before = cpuMs();
  const startMs = performance.now();
  const result = spawnSync('ninja', ['-j', String(slots)], { cwd: dir, stdio: 'ignore' });
  if (result.status !== 0) throw new Error('ninja failed');
  const wallMs = performance.now() - startMs;
  const after = cpuMs();
  return { wallMs, selfCpuMs: 0, totalCpuMs: after.children - before.children };
}

try {
  const baton = await runBaton();
  const ninja = runNinja();
  const perTask = (ms: number): string => `${(ms / count).toFixed(3)} ms/task`;
  console.log(`baton local: ${count} tasks, ${slots} slots`);
  console.log(`  wall ${baton.wallMs.toFixed(0)} ms, ${perTask(baton.wallMs)}`);
  console.log(
    `  cpu node ${perTask(baton.selfCpuMs)}, node+launchers+tasks ${perTask(baton.totalCpuMs)}`,
  );
  if (ninja === null) console.log('ninja: not on PATH, no comparison');
  else {
    console.log(`ninja -j${slots}: ${count} tasks`);
    console.log(`  wall ${ninja.wallMs.toFixed(0)} ms, ${perTask(ninja.wallMs)}`);
    console.log(`  cpu ninja+tasks ${perTask(ninja.totalCpuMs)}`);
    console.log(
      `ratio baton/ninja: wall ${(baton.wallMs / ninja.wallMs).toFixed(2)}, cpu ${(baton.totalCpuMs / ninja.totalCpuMs).toFixed(2)}`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
