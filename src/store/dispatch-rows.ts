/** Row mappers of the worker queue's tables, shared by both backends. */
import type { Dispatch, DispatchResult, WorkerInfo } from './dispatch.ts';
import type { Row } from './rows.ts';

const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Maps a `task_dispatch` row. */
export function toDispatch(r: Row): Dispatch {
  return {
    taskRunId: Number(r.task_run_id),
    runId: String(r.run_id),
    queue: String(r.queue),
    cpu: Number(r.cpu),
    memoryBytes: Number(r.memory_bytes),
    task: r.task === undefined || r.task === null ? {} : JSON.parse(String(r.task)),
    state: String(r.state) as Dispatch['state'],
    workerId: r.worker_id === null || r.worker_id === undefined ? null : String(r.worker_id),
    cancelReason: (r.cancel_reason ?? null) as Dispatch['cancelReason'],
    claimedAt: intOrNull(r.claimed_at),
    result:
      r.result === null || r.result === undefined
        ? null
        : (JSON.parse(String(r.result)) as DispatchResult),
  };
}

/** Maps a `workers` row. */
export function toWorkerInfo(r: Row): WorkerInfo {
  return {
    id: String(r.id),
    name: String(r.name),
    host: String(r.host),
    pid: Number(r.pid),
    queues: JSON.parse(String(r.queues)) as string[],
    slots: Number(r.slots),
    memoryBytes: Number(r.memory_bytes),
    running: Number(r.running),
    startedAt: Number(r.started_at),
    heartbeatAt: Number(r.heartbeat_at),
    stoppedAt: intOrNull(r.stopped_at),
    lost: Boolean(r.lost),
  };
}

/** The message a lost attempt carries: which worker, and why it counts as gone. */
export function lostMessage(w: WorkerInfo, timeoutMs: number): string {
  return `worker ${w.name} (${w.host}, pid ${w.pid}) sent no heartbeat for over ${timeoutMs} ms: the attempt is lost`;
}
