/**
 * The API's shapes as zod schemas: requests are validated with them and the OpenAPI
 * document is generated from them, so the two cannot drift. Responses are described with
 * the same care; the API tests parse every answer with its schema.
 */
import { z } from 'zod';
import { RUN_STATES, TASK_STATES } from '../store/index.ts';

const json = z.record(z.string(), z.unknown());
const ms = z.number().int().describe('milliseconds since the epoch (UTC)');
const msOrNull = ms.nullable();

/** A page size from the query string: 1–500, default 50. */
const limit = z.coerce.number().int().min(1).max(500).default(50);

export const Run = z
  .object({
    id: z.string(),
    flow: z.string(),
    flowVersionId: z.number().int(),
    state: z.enum(RUN_STATES),
    trigger: z.string(),
    runKey: z.string().nullable(),
    logicalDate: ms,
    params: json,
    baseDir: z.string(),
    createdAt: ms,
    startedAt: msOrNull,
    endedAt: msOrNull,
  })
  .meta({ id: 'Run' });

export const WaitReason = z
  .object({
    kind: z.enum(['slot', 'resources', 'max_parallel', 'pool', 'retry', 'executor']),
    message: z.string(),
    since: ms,
    until: ms.optional(),
  })
  .meta({ id: 'WaitReason' });

export const TaskRun = z
  .object({
    id: z.number().int(),
    runId: z.string(),
    taskId: z.string(),
    mapIndex: z.number().int().describe('-1 for an unmapped task and for a map’s parent row'),
    attempt: z.number().int(),
    state: z.enum(TASK_STATES),
    handle: json.nullable(),
    resolved: json.nullable(),
    outputs: json.nullable(),
    exitCode: z.number().int().nullable(),
    reason: z.string().nullable(),
    message: z.string().nullable(),
    retryAt: msOrNull,
    queuedAt: msOrNull,
    startedAt: msOrNull,
    endedAt: msOrNull,
    peakMemoryBytes: z
      .number()
      .int()
      .nullable()
      .describe('peak memory the attempt used (bytes), where its executor measured it'),
    cpuMs: z
      .number()
      .int()
      .nullable()
      .describe('CPU time of the attempt’s process tree (user + system, ms)'),
    waitReason: WaitReason.nullable().describe('why the scheduler holds it, while it waits'),
    sizing: json
      .nullable()
      .describe(
        'Resources, timeout and fan-out the attempt was given, by field: {value, expression?, inputs?}; inputs are the values the expression read',
      ),
    pool: z
      .string()
      .nullable()
      .describe('the pool whose slot the attempt takes (its task’s `pool:`), if any'),
  })
  .meta({ id: 'TaskRun' });

export const RunEvent = z
  .object({
    id: z.number().int(),
    runId: z.string(),
    taskRunId: z.number().int().nullable(),
    at: ms,
    kind: z.string(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    detail: json.nullable(),
  })
  .meta({ id: 'RunEvent' });

export const AssetEvent = z
  .object({
    id: z.number().int(),
    asset: z.string(),
    runId: z.string(),
    taskRunId: z.number().int(),
    at: ms,
    metadata: json,
    partition: z.string().nullable().describe('the partition materialised; null: unpartitioned'),
  })
  .meta({ id: 'AssetEvent' });

export const Command = z
  .object({
    id: z.number().int(),
    kind: z.enum(['trigger', 'cancel_run', 'retry_task', 'mark_success']),
    flow: z.string(),
    runId: z.string().nullable(),
    args: json,
    state: z.enum(['pending', 'done', 'rejected']),
    requestedBy: z.string(),
    message: z.string().nullable(),
    createdAt: ms,
    doneAt: msOrNull,
  })
  .meta({ id: 'Command' });

const Param = z.object({
  type: z.enum(['string', 'int', 'number', 'bool', 'list', 'map']),
  default: z.unknown().optional(),
  enum: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
  required: z.boolean(),
  description: z.string().optional(),
});

const RunBrief = Run.pick({
  id: true,
  state: true,
  trigger: true,
  createdAt: true,
  startedAt: true,
  endedAt: true,
});

export const FlowList = z.object({
  flows: z.array(
    z.object({
      flow: z.string(),
      paused: z.boolean(),
      held: z
        .object({
          runs: z.number().int().describe('queued runs of the flow (backfills aside)'),
          message: z.string().describe('why the oldest of them has not started'),
        })
        .nullable()
        .describe('set while the flow holds its queued runs (paused, or at max_active_runs)'),
      version: z.number().int(),
      description: z.string().nullable(),
      tasks: z.number().int(),
      params: z.record(z.string(), Param),
      lastRuns: z.array(RunBrief).describe('newest first'),
    }),
  ),
});

export const FlowSource = z.object({
  flow: z.string(),
  version: z.number().int(),
  versionId: z.number().int(),
  sourcePath: z.string(),
  sourceText: z.string(),
  createdAt: ms,
});

export const RunPage = z.object({
  runs: z.array(Run),
  next: z.string().nullable().describe('pass as `before` for the next page; null on the last'),
});

const TaskNode = z.object({
  id: z.string(),
  needs: z.array(z.string()),
  mapped: z.boolean(),
});

export const RunHold = z
  .object({
    kind: z.enum(['paused', 'max_active_runs']),
    message: z.string().describe('e.g. `flow "etl" is paused since 2026-11-26 10:00 UTC — …`'),
    since: z.number().int().optional().describe('paused: when the flow was paused (ms)'),
    runs: z
      .array(z.string())
      .optional()
      .describe('max_active_runs: the runs holding the places, oldest first'),
  })
  .describe('why a queued run has not started: its flow holds it (the scheduler skips it)');

export const RunDetail = z.object({
  run: Run,
  flowVersion: z.number().int().nullable(),
  hold: RunHold.nullable().describe(
    'set while the run is queued and its flow is paused or at max_active_runs; null otherwise',
  ),
  waiting: z
    .record(z.string(), z.string())
    .describe(
      'why each waiting task run (by id) is not running yet; `run held: …` while the run is held',
    ),
  tasks: z.array(TaskNode).describe('the flow’s tasks in topological order, for the graph'),
  taskRuns: z.array(TaskRun),
});

export const Grid = z.object({
  tasks: z.array(z.string()).describe('columns, in the flows’ task order'),
  runs: z.array(
    z.object({
      run: RunBrief.extend({ flow: z.string() }),
      cells: z.record(z.string(), z.enum(TASK_STATES)).describe('latest attempt per task'),
    }),
  ),
  next: z.string().nullable(),
});

export const EventList = z.object({ events: z.array(RunEvent) });

export const LogChunk = z.object({
  text: z.string(),
  offset: z.number().int(),
  nextOffset: z.number().int().describe('ask from here next; equal to offset when nothing new'),
  state: z.enum(TASK_STATES),
  done: z.boolean().describe('the attempt has ended: no more text will come'),
});

const TaskRef = z.object({ flow: z.string(), task: z.string() });
export const AssetList = z.object({
  assets: z.array(AssetEvent).describe('newest materialisation per asset'),
  lineage: z
    .record(z.string(), z.object({ producers: z.array(TaskRef), consumers: z.array(TaskRef) }))
    .describe(
      'per asset key: the tasks that declare they produce or consume it (newest flow versions)',
    ),
});
export const AssetHistory = z.object({
  events: z.array(AssetEvent).describe('newest first'),
  next: z.number().int().nullable(),
});

export const Health = z.object({
  database: z.string(),
  readOnly: z.boolean(),
  actions: z
    .boolean()
    .describe('whether write actions are offered (a token is set, not read-only)'),
  schedulers: z.array(
    z.object({
      id: z.string(),
      host: z.string(),
      pid: z.number().int(),
      startedAt: ms,
      heartbeatAt: ms,
      executor: z.string(),
      slots: z.number().int(),
      running: z.number().int(),
    }),
  ),
  taskRuns: z.record(z.string(), z.number().int()).describe('task runs per waiting/active state'),
  pendingCommands: z.number().int().describe('counted up to 1000'),
  now: ms,
});

export const Pool = z
  .object({
    name: z.string(),
    slots: z
      .number()
      .int()
      .nullable()
      .describe(
        'null: task runs name this pool but it does not exist; they wait until it is created',
      ),
    description: z.string(),
    updatedAt: msOrNull,
    running: z.number().int().describe('its task runs running now (being launched included)'),
    queued: z.number().int().describe('its task runs queued: ready, waiting for a slot'),
  })
  .meta({ id: 'Pool' });
export const PoolList = z.object({ pools: z.array(Pool).describe('by name') });

export const CommandList = z.object({
  commands: z.array(Command),
  next: z.number().int().nullable(),
});
export const Accepted = z.object({ command: Command });

export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .meta({ id: 'Error' });

// --- requests ---------------------------------------------------------------------------

export const RunsQuery = z.object({
  flow: z.string().optional(),
  state: z.enum(RUN_STATES).optional(),
  limit,
  before: z.string().optional().describe('a run id: only runs created before it'),
});

export const GridQuery = z.object({
  flow: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  before: z.string().optional(),
});

export const EventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0).describe('only events with a higher id'),
});

export const LogQuery = z.object({
  task: z.string(),
  mapIndex: z.coerce.number().int().min(-1).default(-1),
  attempt: z.coerce.number().int().min(1).optional().describe('default: the latest'),
  offset: z.coerce.number().int().min(0).default(0).describe('byte offset'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024 * 1024)
    .default(256 * 1024)
    .describe('most bytes'),
});

export const PageQuery = z.object({
  limit,
  before: z.coerce.number().int().min(1).optional().describe('an id: only older rows'),
});

export const CommandsQuery = PageQuery.extend({
  state: z.enum(['pending', 'done', 'rejected']).optional(),
});

export const SourceQuery = z.object({
  versionId: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe('a flow version id (a run’s flowVersionId); default: the newest'),
});

export const TriggerBody = z.object({
  params: z
    .record(z.string(), z.unknown())
    .default({})
    .describe('flow parameters; text values are converted to the declared type'),
});

export const TaskActionBody = z.object({
  task: z.string(),
  mapIndex: z.number().int().min(-1).default(-1),
});

export const NoBody = z.object({}).strict();
