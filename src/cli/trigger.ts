import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRun, saveFlow } from '../scheduler/index.ts';
import { runHold } from '../server/index.ts';
import { NotFoundError, resolveParams, UsageError } from '../spec/index.ts';
import { type FlowVersion, type Store, TERMINAL_RUN_STATES } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION, parseKeyValues } from './args.ts';
import { findFlow } from './flow-files.ts';
import { paintState } from './format.ts';
import { findProject, openProjectStore, type Project } from './project.ts';

export const triggerCommand: CommandDef = {
  name: 'trigger',
  usage: 'baton trigger FLOW|FILE [-p key=value]… [--wait]',
  summary:
    'Creates a run for the scheduler(s) to execute and prints its id.\n' +
    'FLOW is a flow stored in the database (its newest version) or a flow file, which is\n' +
    'stored first. Parameters are checked against the flow’s params before anything is written.\n' +
    'The run waits queued while its flow is paused or max_active_runs of its runs are running\n' +
    '(said on stderr, and by baton show RUN).',
  options: {
    param: {
      type: 'string',
      short: 'p',
      multiple: true,
      value: 'K=V',
      help: 'set a flow parameter (repeatable)',
    },
    wait: { type: 'boolean', help: 'wait until the run ends; exit status as baton run' },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
  details:
    'Exit status: 0 created (with --wait: the run succeeded), 1 the run failed, 2 bad input,\n' +
    '130 the run was cancelled.',
};

/** A scheduler that beat its heart this recently is taken to be running. */
const ALIVE_MS = 60_000;

/** `baton trigger`. */
export async function trigger(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  if (positionals.length !== 1)
    throw new UsageError('baton trigger needs exactly one FLOW or FILE');
  const project = findProject(process.cwd(), values.db as string | undefined);
  const json = Boolean(values.json);
  const given = parseKeyValues(values.param as string[] | undefined, '-p');
  const store = await openProjectStore(project);
  try {
    const { version, baseDir } = await flowVersionFor(store, project, positionals[0] as string);
    const params = resolveParams(version.spec, given);
    const run = await createRun(store, { version, params, baseDir, trigger: 'api' });
    const schedulers = (await store.listSchedulers()).filter(
      (s) => s.kind === 'scheduler' && s.stoppedAt === null,
    );
    const now = await store.now();
    const alive = schedulers.some((s) => now - s.heartbeatAt < ALIVE_MS);
    if (json && !values.wait) {
      process.stdout.write(
        `${JSON.stringify({ run: run.id, flow: run.flow, version: version.version, state: run.state, schedulerRunning: alive })}\n`,
      );
    } else if (!json) {
      process.stdout.write(`Triggered ${run.flow} (version ${version.version}) as run ${run.id}\n`);
    }
    // Its flow may hold it (paused, or at max_active_runs): say so now, not after a wait.
    const hold = await runHold(store, run);
    if (hold) process.stderr.write(`baton: run ${run.id} is held: ${hold.message}\n`);
    if (!alive) {
      process.stderr.write(
        `baton: no scheduler has reported in the last ${ALIVE_MS / 1000}s on ${store.url}: ` +
          'the run waits until one starts (baton scheduler)\n',
      );
    }
    if (!values.wait) return 0;
    const state = await waitForRun(store, run.id, json);
    if (json) process.stdout.write(`${JSON.stringify({ run: run.id, flow: run.flow, state })}\n`);
    else
      process.stdout.write(`Run ${run.id} ${paintState(state, Boolean(process.stdout.isTTY))}\n`);
    return state === 'success' ? 0 : state === 'cancelled' ? 130 : 1;
  } finally {
    await store.close();
  }
}

/** The stored version a name or file stands for, and the folder its tasks run in. */
async function flowVersionFor(
  store: Store,
  project: Project,
  flow: string,
): Promise<{ version: FlowVersion; baseDir: string }> {
  const asPath = resolve(flow);
  const isFile = existsSync(asPath) && statSync(asPath).isFile();
  if (!isFile) {
    const stored = await store.latestFlowVersion(flow);
    if (stored) return { version: stored, baseDir: dirname(stored.sourcePath) };
  }
  try {
    const loaded = await findFlow(project, flow);
    return { version: await saveFlow(store, loaded), baseDir: loaded.baseDir };
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(
        `no flow "${flow}" stored in ${store.url}, and no flow file of that name or path`,
        { flow },
      );
    }
    throw e;
  }
}

/** Polls the run until it ends, showing its state changes on stderr. */
async function waitForRun(store: Store, runId: string, quiet: boolean): Promise<string> {
  let last = '';
  for (;;) {
    const run = await store.getRun(runId);
    if (!run) throw new NotFoundError(`run ${runId} disappeared from ${store.url}`, { run: runId });
    if (run.state !== last && !quiet)
      process.stderr.write(`  ${run.id}: ${run.state}${run.owner ? ` (${run.owner})` : ''}\n`);
    last = run.state;
    if (TERMINAL_RUN_STATES.has(run.state)) return run.state;
    await sleep(500);
  }
}
