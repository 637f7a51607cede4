/**
 * The worker queue's statements on PostgreSQL, one function per statement group, each
 * run inside the store's transaction. Workers claim with `FOR UPDATE SKIP LOCKED` (two
 * workers never wait on, nor take, the same row) and every transition is a compare-and-set
 * on the dispatch's state (and, for a worker's writes, on its id): a worker declared lost
 * cannot record a result any more.
 */
import type pg from 'pg';
import {
  type ClaimDispatches,
  DISPATCH_CHANNEL,
  type Dispatch,
  type NewDispatch,
  type NewWorker,
  type SettleDispatches,
  type SettledDispatches,
  WORK_CHANNEL,
  type WorkerInfo,
} from '../dispatch.ts';
import { lostMessage, toDispatch, toWorkerInfo } from '../dispatch-rows.ts';
import { LOG_CHUNK_BYTES, type StoredLogChunk } from '../log-chunks.ts';
import type { LogRef } from '../log-store.ts';
import type { Row } from '../rows.ts';

type Client = pg.ClientBase;
const NOW = 'baton_now_ms()';
// Done dispatches are kept a week: a scheduler restarted within it adopts their results.
const DONE_KEEP_MS = 7 * 86_400_000;
// Candidates looked at per claim for every attempt wanted: a task that does not fit is
// skipped, not waited for.
const CANDIDATES_PER_CLAIM = 4;

export async function enqueueDispatches(c: Client, ds: readonly NewDispatch[]): Promise<void> {
  await c.query(
    `INSERT INTO task_dispatch (task_run_id, run_id, queue, cpu, memory_bytes, task, state, created_at)
     SELECT t.id, t.run_id, t.queue, t.cpu, t.memory_bytes, t.task, 'queued', ${NOW}
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::bigint[], $6::text[])
       AS t(id, run_id, queue, cpu, memory_bytes, task)
     ON CONFLICT (task_run_id) DO NOTHING`,
    [
      ds.map((d) => d.taskRunId),
      ds.map((d) => d.runId),
      ds.map((d) => d.queue),
      ds.map((d) => d.cpu),
      ds.map((d) => d.memoryBytes),
      ds.map((d) => JSON.stringify(d.task)),
    ],
  );
  for (const queue of new Set(ds.map((d) => d.queue)))
    await c.query('SELECT pg_notify($1, $2)', [WORK_CHANNEL, `queue:${queue}`]);
}

/**
 * A queued dispatch ends at once as cancelled; a running one is marked for its worker,
 * which stops the task and reports.
 */
export async function cancelDispatch(
  c: Client,
  taskRunId: number,
  reason: 'timeout' | 'cancelled',
): Promise<void> {
  const result = JSON.stringify({
    reason,
    exitCode: null,
    message: `${reason === 'timeout' ? 'timed out' : 'cancelled'} before a worker started it`,
  });
  const { rowCount } = await c.query(
    `UPDATE task_dispatch SET state = 'done', result = $2, done_at = ${NOW}
     WHERE task_run_id = $1 AND state = 'queued'`,
    [taskRunId, result],
  );
  if (rowCount) {
    await c.query('SELECT pg_notify($1, $2)', [DISPATCH_CHANNEL, '']);
    return;
  }
  const { rows } = await c.query(
    `UPDATE task_dispatch SET cancel_reason = $2
     WHERE task_run_id = $1 AND state = 'running' AND cancel_reason IS NULL RETURNING worker_id`,
    [taskRunId, reason],
  );
  if (rows[0])
    await c.query('SELECT pg_notify($1, $2)', [WORK_CHANNEL, `cancel:${rows[0].worker_id}`]);
}

export async function readDispatches(
  c: Client,
  taskRunIds: readonly number[],
): Promise<Dispatch[]> {
  const { rows } = await c.query(
    `SELECT task_run_id, run_id, queue, cpu, memory_bytes, state, worker_id, cancel_reason,
            claimed_at, result
     FROM task_dispatch WHERE task_run_id = ANY($1::bigint[]) ORDER BY task_run_id`,
    [taskRunIds],
  );
  return rows.map((r) => toDispatch(r as Row));
}

/**
 * Takes queued attempts of the worker's queues that fit what it has free, oldest first:
 * candidates are locked with SKIP LOCKED, the ones that fit are moved `queued → running`
 * under the worker's id; the rest stay queued for another worker.
 */
/**
 * Takes queued attempts of the worker's queues that fit what it has free, oldest first:
 * candidates are locked with SKIP LOCKED, the ones that fit are moved `queued → running`
 * under the worker's id; the rest stay queued for another worker.
 */
async function claimRows(c: Client, req: ClaimDispatches): Promise<Dispatch[]> {
  if (req.limit <= 0 || req.freeSlots <= 0) return [];
  const { rows } = await c.query(
    `SELECT task_run_id, cpu, memory_bytes FROM task_dispatch
     WHERE state = 'queued' AND queue = ANY($1::text[])
     ORDER BY task_run_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [req.queues, req.limit * CANDIDATES_PER_CLAIM],
  );
  let slots = req.freeSlots;
  let memory = req.freeMemoryBytes;
  const chosen: number[] = [];
  for (const r of rows) {
    const cpu = Number(r.cpu);
    const mem = Number(r.memory_bytes);
    if (cpu > slots || mem > memory) continue;
    slots -= cpu;
    memory -= mem;
    chosen.push(Number(r.task_run_id));
    if (chosen.length >= req.limit) break;
  }
  if (chosen.length === 0) return [];
  const claimed = await c.query(
    // A worker declared lost (or stopped) claims nothing: what it took would be ended as
    // lost by the next sweep, retries spent for nothing.
    `UPDATE task_dispatch SET state = 'running', worker_id = $2, claimed_at = ${NOW}
     WHERE task_run_id = ANY($1::bigint[]) AND state = 'queued'
       AND EXISTS (SELECT 1 FROM workers w WHERE w.id = $2 AND w.stopped_at IS NULL)
     RETURNING *`,
    [chosen, req.workerId],
  );
  return claimed.rows.map((r) => toDispatch(r as Row)).sort((a, b) => a.taskRunId - b.taskRunId);
}

/**
 * A worker's round trip: its results recorded (each only while the attempt is still its
 * own: a worker declared lost cannot report), then what fits claimed, with one
 * notification for both.
 */
export async function settleDispatches(
  c: Client,
  req: SettleDispatches,
): Promise<SettledDispatches> {
  let recorded: number[] = [];
  if (req.results.length > 0) {
    const { rows } = await c.query(
      `UPDATE task_dispatch d SET state = 'done', result = r.result, done_at = ${NOW}
       FROM unnest($1::bigint[], $2::text[]) AS r(id, result)
       WHERE d.task_run_id = r.id AND d.worker_id = $3 AND d.state = 'running'
       RETURNING d.task_run_id`,
      [
        req.results.map((r) => r.taskRunId),
        req.results.map((r) => JSON.stringify(r.result)),
        req.workerId,
      ],
    );
    recorded = rows.map((r) => Number(r.task_run_id));
  }
  const claimed = req.claim ? await claimRows(c, { ...req.claim, workerId: req.workerId }) : [];
  if (recorded.length > 0 || claimed.length > 0)
    await c.query('SELECT pg_notify($1, $2)', [DISPATCH_CHANNEL, '']);
  return { recorded, claimed };
}

/**
 * Running dispatches of one worker, with their tasks: what it should be running (it runs
 * one it does not know of: see the worker's adoption), and what to cancel.
 */
export async function workerDispatches(c: Client, workerId: string): Promise<Dispatch[]> {
  const { rows } = await c.query(
    `SELECT * FROM task_dispatch WHERE worker_id = $1 AND state = 'running' ORDER BY task_run_id`,
    [workerId],
  );
  return rows.map((r) => toDispatch(r as Row));
}

/**
 * Declares workers silent for over `timeoutMs` (by the database clock) lost, and ends
 * every attempt still running on a stopped or lost worker as `lost`. Returns how many.
 */
export async function expireWorkers(c: Client, timeoutMs: number): Promise<number> {
  await c.query(
    `UPDATE workers SET stopped_at = ${NOW}, lost = true
     WHERE stopped_at IS NULL AND heartbeat_at < ${NOW} - $1::bigint`,
    [timeoutMs],
  );
  const { rows } = await c.query(
    `SELECT DISTINCT w.* FROM workers w JOIN task_dispatch d ON d.worker_id = w.id
     WHERE d.state = 'running' AND w.stopped_at IS NOT NULL`,
  );
  let ended = 0;
  for (const r of rows) {
    const worker = toWorkerInfo(r as Row);
    const result = JSON.stringify({
      reason: 'lost',
      exitCode: null,
      message: worker.lost
        ? lostMessage(worker, timeoutMs)
        : `worker ${worker.name} stopped before the attempt ended: the attempt is lost`,
    });
    const { rowCount } = await c.query(
      `UPDATE task_dispatch SET state = 'done', result = $2, done_at = ${NOW}
       WHERE worker_id = $1 AND state = 'running'`,
      [worker.id, result],
    );
    ended += rowCount ?? 0;
  }
  if (ended > 0) await c.query('SELECT pg_notify($1, $2)', [DISPATCH_CHANNEL, '']);
  await c.query(
    `DELETE FROM task_dispatch WHERE state = 'done' AND done_at < ${NOW} - $1::bigint`,
    [DONE_KEEP_MS],
  );
  return ended;
}

export async function registerWorker(c: Client, w: NewWorker): Promise<void> {
  await c.query(
    `INSERT INTO workers (id, name, host, pid, queues, slots, memory_bytes, started_at, heartbeat_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, ${NOW}, ${NOW})`,
    [w.id, w.name, w.host, w.pid, JSON.stringify(w.queues), w.slots, w.memoryBytes],
  );
}

/** Beats a worker's heart; false when it was stopped or declared lost meanwhile. */
export async function workerHeartbeat(c: Client, id: string, running: number): Promise<boolean> {
  const { rowCount } = await c.query(
    `UPDATE workers SET heartbeat_at = ${NOW}, running = $2 WHERE id = $1 AND stopped_at IS NULL`,
    [id, running],
  );
  return rowCount === 1;
}

export async function stopWorker(c: Client, id: string): Promise<void> {
  await c.query(
    `UPDATE workers SET stopped_at = ${NOW}, running = 0 WHERE id = $1 AND stopped_at IS NULL`,
    [id],
  );
}

export async function listWorkers(c: Client | pg.Pool): Promise<WorkerInfo[]> {
  const { rows } = await c.query(
    'SELECT * FROM workers ORDER BY (stopped_at IS NULL) DESC, heartbeat_at DESC, id',
  );
  return rows.map((r) => toWorkerInfo(r as Row));
}

const LOG_KEY = 'run_id = $1 AND task_id = $2 AND map_index = $3 AND attempt = $4';
const logKey = (ref: LogRef) => [ref.runId, ref.taskId, ref.mapIndex, ref.attempt];

/**
 * Writes `data` at byte `offset` of an attempt's log, in chunks, then drops the oldest
 * chunks past `capBytes`. Idempotent on the offset: a write repeated after an ambiguous
 * commit changes nothing.
 */
export async function appendLog(
  c: Client,
  ref: LogRef,
  offset: number,
  data: Uint8Array,
  capBytes: number,
): Promise<void> {
  for (let at = 0; at < data.length; at += LOG_CHUNK_BYTES) {
    const part = data.subarray(at, Math.min(data.length, at + LOG_CHUNK_BYTES));
    await c.query(
      `INSERT INTO task_logs (run_id, task_id, map_index, attempt, start_offset, data)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [...logKey(ref), offset + at, Buffer.from(part.buffer, part.byteOffset, part.length)],
    );
  }
  const end = offset + data.length;
  if (end > capBytes) {
    await c.query(
      `DELETE FROM task_logs WHERE ${LOG_KEY} AND start_offset + octet_length(data) <= $5`,
      [...logKey(ref), end - capBytes],
    );
  }
}

/** The chunks covering `[offset, offset + limitBytes)`, or undefined when the attempt has none. */
export async function readLogChunks(
  c: pg.Pool,
  ref: LogRef,
  offset: number,
  limitBytes: number,
): Promise<StoredLogChunk[] | undefined> {
  const { rows } = await c.query(
    `SELECT start_offset, data FROM task_logs
     WHERE ${LOG_KEY} AND start_offset + octet_length(data) > $5 AND start_offset < $5 + $6
     ORDER BY start_offset`,
    [...logKey(ref), offset, limitBytes],
  );
  if (rows.length > 0)
    return rows.map((r) => ({ start: Number(r.start_offset), data: r.data as Buffer }));
  const any = await c.query(
    `SELECT min(start_offset) AS first, max(start_offset + octet_length(data)) AS end
     FROM task_logs WHERE ${LOG_KEY}`,
    logKey(ref),
  );
  const first = any.rows[0]?.first;
  if (first === null || first === undefined) return undefined;
  // Everything at `offset` was dropped by the cap: read from the first kept chunk.
  if (Number(first) > offset) return readLogChunks(c, ref, Number(first), limitBytes);
  return [];
}
