import { relative } from 'node:path';
import type { Executor } from '../executors/index.ts';
import {
  createRun,
  DEFAULT_LEASE_MS,
  deadOnThisHost,
  driveRun,
  driverId,
  holdRunLease,
  saveFlow,
} from '../scheduler/index.ts';
import {
  type FlowSpec,
  formatDuration,
  NotFoundError,
  resolveParams,
  UsageError,
} from '../spec/index.ts';
import { latestAttempts, type Run, type Store, type TaskRun } from '../store/index.ts';
import {
  type CommandDef,
  DB_OPTION,
  JSON_OPTION,
  MEMORY_OPTION,
  parseKeyValues,
  positiveInt,
  sizeFlag,
} from './args.ts';
import { findFlow } from './flow-files.ts';
import { paintState, table, taskLabel } from './format.ts';
import {
  EXECUTOR_NAMES,
  executorsOf,
  makeExecutor,
  WORKER_EXECUTOR_OPTIONS,
} from './make-executor.ts';
import { ProgressView } from './progress.ts';
import { findProject, openProjectStore, type Project } from './project.ts';

export const runCommand: CommandDef = {
  name: 'run',
  usage:
    'baton run FLOW|FILE [-p key=value]… [--parallelism N] [--memory SIZE] [--executor local|sequential|kubernetes|worker] | baton run --resume RUN',
  summary:
    'Runs one flow to completion in this process and records everything in the database.\n' +
    'Ctrl-C cancels the run cleanly: running tasks are killed and recorded as cancelled.\n' +
    'If this process dies, its tasks keep running; --resume RUN adopts them and finishes the run.',
  options: {
    param: {
      type: 'string',
      short: 'p',
      multiple: true,
      value: 'K=V',
      help: 'set a flow parameter (repeatable)',
    },
    parallelism: {
      type: 'string',
      value: 'N',
      help: 'most tasks at once (default: number of CPUs; kubernetes: pods per namespace, 16)',
    },
    executor: {
      type: 'string',
      value: 'NAME',
      help: 'run every task on local, sequential, kubernetes or worker (default: each task on the executor it names, else local)',
    },
    ...WORKER_EXECUTOR_OPTIONS,
    kubeconfig: {
      type: 'string',
      value: 'FILE',
      help: 'kubernetes: cluster and credentials (default $KUBECONFIG, ~/.kube/config, or in-cluster)',
    },
    namespace: {
      type: 'string',
      value: 'NS',
      help: "kubernetes: namespace of the pods (default: the kubeconfig context's, else default)",
    },
    ...MEMORY_OPTION,
    resume: {
      type: 'string',
      value: 'RUN',
      help: 'continue a run an earlier process left unfinished',
    },
    quiet: { type: 'boolean', short: 'q', help: 'print only the final summary' },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
  details: 'Exit status: 0 the run succeeded, 1 it failed, 2 bad input, 130 cancelled.',
};

function checkExecutorName(name: string): void {
  if (EXECUTOR_NAMES.includes(name)) return;
  throw new UsageError(`--executor must be local, sequential, kubernetes or worker, got "${name}"`);
}

/** `baton run`: one run to completion in this process. */
export async function run(values: Record<string, unknown>, positionals: string[]): Promise<number> {
  const project = findProject(process.cwd(), values.db as string | undefined);
  const json = Boolean(values.json);
  const slots = positiveInt(values.parallelism, '--parallelism');
  const memoryBytes = sizeFlag(values.memory, '--memory');
  const resumeId = values.resume as string | undefined;
  if (resumeId && positionals.length > 0)
    throw new UsageError('--resume takes a run id and no FLOW');
  if (!resumeId && positionals.length !== 1)
    throw new UsageError('baton run needs exactly one FLOW or FILE (see baton run --help)');
  if (values.executor !== undefined) checkExecutorName(String(values.executor));

  let store: Store | undefined;
  let executor: Executor | undefined;
  let lease: { stop(): Promise<void> } | undefined;
  // This process drives its run under a lease like any scheduler, so a scheduler sharing
  // the database leaves the run alone, and adopts it if this process dies.
  const owner = driverId('run');
  const leaseMs = DEFAULT_LEASE_MS;
  try {
    // Load and check everything the user gave before touching the database.
    const loaded = resumeId ? undefined : await findFlow(project, positionals[0] as string);
    const params = loaded
      ? resolveParams(loaded.spec, parseKeyValues(values.param as string[] | undefined, '-p'))
      : {};
    store = await openProjectStore(project);

    let runRow: Run;
    let spec: FlowSpec;
    const only = values.executor as string | undefined;
    if (loaded) {
      // The executors first: a cluster that cannot be reached leaves no run behind.
      executor = await makeExecutor(
        { only, named: executorsOf(loaded.spec) },
        values,
        slots,
        project,
        store,
        memoryBytes,
      );
      const version = await saveFlow(store, loaded);
      runRow = await createRun(store, {
        version,
        params,
        baseDir: loaded.baseDir,
        trigger: 'manual',
        owner: { id: owner, leaseMs },
        // run.date of a scheduled flow run by hand is today in its schedule's zone.
        ...(loaded.spec.schedule[0] && { timezone: loaded.spec.schedule[0].timezone }),
      });
      spec = loaded.spec;
    } else {
      const found = await store.getRun(resumeId as string);
      if (!found)
        throw new NotFoundError(`no run "${resumeId}" in ${store.url} (see baton runs)`, {
          run: resumeId,
        });
      if (found.state !== 'queued' && found.state !== 'running') {
        throw new UsageError(`run ${found.id} already ended (${found.state}); nothing to resume`);
      }
      const version = await store.getFlowVersion(found.flowVersionId);
      if (!version)
        throw new NotFoundError(
          `flow version ${found.flowVersionId} of run ${found.id} is missing`,
        );
      const [claimed] = await store.claimRuns({
        owner,
        leaseMs,
        limit: 1,
        runId: found.id,
        deadOwners: deadOnThisHost(await store.listSchedulers(), owner),
      });
      if (!claimed) {
        throw new UsageError(
          `run ${found.id} is being driven by ${found.owner} (its lease runs until ${new Date(found.leaseUntil ?? 0).toISOString()}); ` +
            'stop that process, or wait for its lease to run out, then resume',
        );
      }
      runRow = claimed;
      spec = version.spec;
      executor = await makeExecutor(
        { only, named: executorsOf(spec) },
        values,
        slots,
        project,
        store,
        memoryBytes,
      );
      await store.addEvent(found.id, 'resumed', { pid: process.pid }, Date.now());
    }

    const view = new ProgressView(process.stderr, spec.tasks.length, Boolean(values.quiet) || json);
    if (!json) {
      process.stderr.write(
        `${resumeId ? 'Resuming' : 'Running'} ${spec.flow} as run ${runRow.id} (${spec.tasks.length} tasks, ${executor.name.replaceAll('+', ' and ')} executor${executor.name.includes('+') ? 's' : ''})\n`,
      );
    }
    const abort = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts === 1) {
        process.stderr.write(
          '\nCancelling: killing running tasks (Ctrl-C again to leave them running and exit)\n',
        );
        abort.abort();
      } else {
        process.stderr.write(`\nLeaving. Resume with: baton run --resume ${runRow.id}\n`);
        process.exit(130);
      }
    };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    const started = Date.now();
    lease = await holdRunLease(store, owner, runRow.id, leaseMs, () => {
      process.stderr.write(`\nrun ${runRow.id} was claimed by another process; leaving it to it\n`);
    });
    const { state } = await driveRun({
      fence: { runId: runRow.id, owner, epoch: runRow.ownerEpoch, leaseMs },
      store,
      executor,
      run: runRow,
      spec,
      ...(slots !== undefined ? { parallelism: slots } : {}),
      runsDir: project.runsDir,
      onProgress: (p) => view.update(p),
      signal: abort.signal,
      onController: (c) => {
        view.running = () => c.inFlight;
      },
    });
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);

    if (!json && spec.tasks.length > 50) {
      // A large run's summary is its counts; re-reading 10,000 task runs (each with its
      // resolved command and environment) would cost more memory than the whole run.
      process.stdout.write(
        `Run ${runRow.id} ${paintState(state, Boolean(process.stdout.isTTY))} in ${formatDuration(Date.now() - started)}\n` +
          `${view.countsText()}\n\n${whereText(runRow, project, store.url)}\n`,
      );
      return exitCodeOf(state);
    }
    const taskRuns = await store.listTaskRuns(runRow.id);
    if (json) {
      process.stdout.write(
        `${JSON.stringify(summaryJson(runRow, state, taskRuns, project), null, 2)}\n`,
      );
    } else {
      process.stdout.write(
        `${summaryText(runRow, spec, state, taskRuns, project, Date.now() - started, store.url)}\n`,
      );
    }
    return exitCodeOf(state);
  } finally {
    await lease?.stop();
    // Only after every result is committed: closing lets the executor drop its journals.
    await executor?.close();
    await store?.close();
  }
}

function summaryJson(run: Run, state: string, taskRuns: readonly TaskRun[], project: Project) {
  return {
    run: run.id,
    flow: run.flow,
    state,
    tasks: latestAttempts(taskRuns)
      .filter((t) => t.mapIndex < 0)
      .map((t) => ({
        task: t.taskId,
        state: t.state,
        attempt: t.attempt,
        outputs: t.outputs,
        message: t.message,
      })),
    logs: relative(process.cwd(), `${project.runsDir}/${run.id}`) || '.',
  };
}

function summaryText(
  run: Run,
  spec: FlowSpec,
  state: string,
  taskRuns: readonly TaskRun[],
  project: Project,
  ms: number,
  dbUrl: string,
): string {
  const tty = Boolean(process.stdout.isTTY);
  const latest = latestAttempts(taskRuns).filter((t) => t.mapIndex < 0);
  const lines: string[] = [];
  lines.push(`Run ${run.id} ${paintState(state, tty)} in ${formatDuration(ms)}`);
  const rows = latest.map((t) => {
    const attempts = t.attempt > 1 ? `${t.attempt}` : '';
    const out = t.outputs ? JSON.stringify(t.outputs) : (t.message ?? '');
    return [
      taskLabel(t.taskId, t.mapIndex),
      paintState(t.state, tty),
      attempts,
      out.length > 90 ? `${out.slice(0, 87)}...` : out,
    ];
  });
  lines.push('', table(['TASK', 'STATE', 'ATTEMPTS', 'OUTPUT / MESSAGE'], rows));
  // The final tasks' outputs are the run's results: show them whole, paths included.
  const upstreams = new Set(spec.tasks.flatMap((t) => t.needs));
  const results = latest.filter(
    (t) => !upstreams.has(t.taskId) && t.state === 'success' && t.outputs,
  );
  if (results.length > 0 && results.length <= 20) {
    lines.push('', 'Results:');
    for (const t of results) {
      for (const [k, v] of Object.entries(t.outputs ?? {})) {
        lines.push(`  ${t.taskId}.${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
      }
    }
  }
  lines.push('', whereText(run, project, dbUrl));
  return lines.join('\n');
}

/** `baton run`'s exit status for a run's final state (see the command's help). */
function exitCodeOf(state: string): number {
  return state === 'success' ? 0 : state === 'cancelled' ? 130 : 1;
}

/** Where the run record and the logs are, and the commands that show them. */
function whereText(run: Run, project: Project, dbUrl: string): string {
  return [
    `Run record: ${dbUrl}  (baton show ${run.id})`,
    `Task logs:  ${relative(process.cwd(), `${project.runsDir}/${run.id}`)}/  (baton logs ${run.id} TASK)`,
  ].join('\n');
}
