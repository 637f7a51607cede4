import { runHold, whyWaiting } from '../server/index.ts';
import { localDate, localDateTime, NotFoundError } from '../spec/index.ts';
import type { Run } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION } from './args.ts';
import { paintState, span, table, taskLabel, when } from './format.ts';
import { findProject, openProjectStore } from './project.ts';
import { sizingLines } from './sizing-lines.ts';
import { usageText } from './usage-text.ts';

export const showCommand: CommandDef = {
  name: 'show',
  usage: 'baton show RUN [--json] [--events]',
  summary:
    'Shows one run: its parameters, every task run and attempt, outputs and failures, and\n' +
    'why what waits is not running (a queued run its paused flow or max_active_runs holds).',
  options: {
    events: { type: 'boolean', help: 'also list every recorded transition' },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
};

/** `baton show RUN`. */
export async function show(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const id = positionals[0];
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    const run = id === undefined ? undefined : await store.getRun(id);
    if (!run)
      throw new NotFoundError(`no run "${id ?? ''}" in ${store.url} (see baton runs)`, { run: id });
    const taskRuns = await store.listTaskRuns(run.id);
    const version = await store.getFlowVersion(run.flowVersionId);
    const events = values.events || values.json ? await store.listEvents(run.id) : [];
    const hold = await runHold(store, run);
    const waiting = whyWaiting(run, version?.spec, taskRuns, hold);
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ run, flowVersion: version && { id: version.id, version: version.version, sourcePath: version.sourcePath }, hold, waiting, taskRuns, events }, null, 2)}\n`,
      );
      return 0;
    }
    const tty = Boolean(process.stdout.isTTY);
    const out: string[] = [
      `Run       ${run.id}`,
      `Flow      ${run.flow} (version ${version?.version ?? '?'}, ${version?.sourcePath ?? 'source unknown'})`,
      `State     ${paintState(run.state, tty)}${hold ? `   held: ${hold.message}` : ''}`,
      `Trigger   ${run.trigger}`,
      `Logical   ${new Date(run.logicalDate).toISOString()}`,
      ...intervalLines(run),
      `Started   ${when(run.startedAt)}   Ended ${when(run.endedAt)}   Took ${span(run.startedAt, run.endedAt)}`,
      `Params    ${JSON.stringify(run.params)}`,
      '',
    ];
    const rows = taskRuns.map((t) => {
      let detail =
        t.state === 'success' ? (t.outputs ? JSON.stringify(t.outputs) : '') : (t.message ?? '');
      const why = waiting[t.id];
      if (why) detail = detail ? `${detail}; ${why}` : why;
      const usage = usageText(t);
      const resources = usage ? ` [${usage}]` : '';
      return [
        taskLabel(t.taskId, t.mapIndex),
        String(t.attempt),
        paintState(t.state, tty),
        span(t.startedAt, t.endedAt),
        t.exitCode === null ? '' : String(t.exitCode),
        (detail.length > 100 ? `${detail.slice(0, 97)}...` : detail) + resources,
      ];
    });
    out.push(table(['TASK', 'TRY', 'STATE', 'TOOK', 'EXIT', 'OUTPUT / MESSAGE'], rows));
    out.push(...sizingLines(taskRuns));
    if (values.events) {
      out.push('', 'Events:');
      for (const e of events) {
        const t = e.taskRunId === null ? '' : `task run ${e.taskRunId} `;
        out.push(
          `  ${when(e.at)} ${t}${e.kind}${e.from ? ` ${e.from} -> ${e.to}` : ''}${e.detail ? ` ${JSON.stringify(e.detail)}` : ''}`,
        );
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** The data interval of a scheduled or backfill run, in its zone; nothing for a manual run. */
function intervalLines(run: Run): string[] {
  if (run.intervalStart === null || run.intervalEnd === null) return [];
  const zone = run.timezone ?? 'UTC';
  const backfill = run.backfillId === null ? '' : `, backfill #${run.backfillId}`;
  return [
    `Interval  ${localDateTime(run.intervalStart, zone)} → ${localDateTime(run.intervalEnd, zone)} ${zone} (run.date ${localDate(run.intervalStart, zone)}${backfill})`,
  ];
}
