import { setTimeout as delay } from 'node:timers/promises';
import { NotFoundError, UsageError } from '../spec/index.ts';
import { type TaskRun, TERMINAL_TASK_STATES } from '../store/index.ts';
import { type CommandDef, DB_OPTION, positiveInt } from './args.ts';
import { findProject, openProjectStore, projectLogs } from './project.ts';

export const logsCommand: CommandDef = {
  name: 'logs',
  usage: 'baton logs RUN TASK[INDEX] [--attempt N] [-f]',
  summary:
    'Prints the log (stdout and stderr) of a task run: the latest attempt unless --attempt.\n' +
    'A map item is written TASK[INDEX], e.g. clean[2].',
  options: {
    attempt: { type: 'string', value: 'N', help: 'which attempt (default: the latest)' },
    follow: {
      type: 'boolean',
      short: 'f',
      help: 'keep printing new output until the attempt ends',
    },
    ...DB_OPTION,
  },
};

/** `baton logs RUN TASK`. */
export async function logs(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const [runId, taskArg] = positionals;
  if (!runId || !taskArg)
    throw new UsageError('baton logs needs RUN and TASK (see baton logs --help)');
  const m = /^([^[\]]+)(?:\[(\d+)\])?$/.exec(taskArg);
  if (!m) throw new UsageError(`TASK must be a task id or TASK[INDEX], got "${taskArg}"`);
  const taskId = m[1] as string;
  const mapIndex = m[2] === undefined ? -1 : Number(m[2]);
  const wanted = positiveInt(values.attempt, '--attempt');
  const project = findProject(process.cwd(), values.db as string | undefined);
  const store = await openProjectStore(project);
  const logStore = projectLogs(project, store);
  try {
    const run = await store.getRun(runId);
    if (!run) throw new NotFoundError(`no run "${runId}" in ${store.url} (see baton runs)`);
    const pick = async (): Promise<TaskRun> => {
      const all = (await store.listTaskRuns(runId)).filter(
        (t) => t.taskId === taskId && t.mapIndex === mapIndex,
      );
      if (all.length === 0) {
        const ids = [...new Set((await store.listTaskRuns(runId)).map((t) => t.taskId))];
        throw new NotFoundError(
          `run ${runId} has no task run "${taskArg}" (tasks: ${ids.join(', ')})`,
        );
      }
      const match =
        wanted === undefined
          ? all.reduce((a, b) => (b.attempt > a.attempt ? b : a))
          : all.find((t) => t.attempt === wanted);
      if (!match)
        throw new NotFoundError(
          `task "${taskArg}" has no attempt ${wanted} (attempts: 1-${all.length})`,
        );
      return match;
    };
    let tr = await pick();
    const ref = { runId, taskId, mapIndex, attempt: tr.attempt };
    let offset = 0;
    for (;;) {
      const chunk = await logStore.read(ref, offset, 1 << 20);
      if (chunk.text) process.stdout.write(chunk.text);
      const progressed = chunk.nextOffset !== offset;
      offset = chunk.nextOffset;
      if (progressed) continue;
      if (!values.follow || TERMINAL_TASK_STATES.has(tr.state)) break;
      await delay(250);
      tr = (await store.getTaskRun(tr.id)) ?? tr;
    }
    return 0;
  } finally {
    await store.close();
  }
}
