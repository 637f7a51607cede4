import { mkdirSync } from 'node:fs';
import type {
  ExecutorEvent,
  FinishReason,
  Fit,
  ResolvedTask,
  ResourceRequest,
  Usage,
} from '../executors/index.ts';
import {
  BatonError,
  type ExprContext,
  ExpressionError,
  type FlowSpec,
  sourceLocation,
  type TaskSpec,
  taskFieldPath,
} from '../spec/index.ts';
import {
  attemptFiles,
  type FailureReason,
  type Fence,
  type PoolRefusal,
  type Run,
  type RunState,
  runDir,
  type Store,
  type TaskRun,
  type TaskRunPatch,
  type TaskRunWrite,
  type TaskState,
  type WaitReason,
} from '../store/index.ts';
import { type Measurements, materialisations, measureProduced } from './materialise.ts';
import { readTaskOutput } from './output-file.ts';
import { ReadyQueue } from './ready-queue.ts';
import {
  evaluateIf,
  evaluateMap,
  evaluateMaxParallel,
  type ProducedAsset,
  producedAssets,
  type RunFacts,
  resolveTask,
  runContext,
  decision as sizingDecision,
} from './resolve-task.ts';
import { decide, type TriggerDecision } from './trigger-rules.ts';
import {
  executorWait,
  maxParallelWait,
  poolWait,
  resourcesWait,
  retryWait,
  slotWait,
} from './wait-reasons.ts';

/**
 * How long a tick waits to gather events while the executor has attempts queued (no slot
 * idles meanwhile). 1 ms committed 0.65 times a task on 10,000 `true` tasks at 2 slots;
 * 3 ms cut the controller's CPU by ~12% (2026-11-26, bench/README.md).
 */
const GATHER_MS = 3;

/** States after which a task (or map item) never changes again; `up_for_retry` is not one. */
const FINAL: ReadonlySet<TaskState> = new Set([
  'success',
  'failed',
  'skipped',
  'upstream_failed',
  'cancelled',
]);

// How often held units look again at the executor's capacity (see `#recheckHeldSoon`).
const heldRecheckMs = 250;

/** CPUs and memory picked in one tick and not yet launched, per executor lane. */
type Picked = Map<string, { cpu: number; memoryBytes: number }>;

/** Called once a write committed: applied or not, an insert's id, a pool's refusal. */
type AfterWrite = (applied: boolean, id: number, refusal?: PoolRefusal) => void;

/** One thing an executor runs: an unmapped task, or one item of a mapped task. */
interface Unit {
  readonly node: TaskNode;
  readonly mapIndex: number;
  readonly priority: number;
  readonly order: number;
  rowId: number;
  attempt: number;
  state: TaskState;
  item?: unknown;
  outputs: Record<string, unknown> | null;
  retryAt?: number | null;
  retryTimer?: NodeJS.Timeout | undefined;
  /** When the executor reported the attempt's process started (its clock, ms). */
  ranFrom?: number;
  /** The wait reason last recorded on its row (its message), so it is written only on change. */
  waitingFor?: string | null;
  /** Why the previous attempt failed (`last_failure` of this one); "" on the first. */
  lastFailure: string;
  /** A successful attempt's `produces`, rendered, and what Baton measured of them. */
  produced?: ProducedAsset[];
  measured?: Measurements;
  /** What decided its resources, timeout and fan-out; stored when it starts. */
  sizing?: Record<string, unknown>;
  /** Released from its pool's queue to ask for a slot (see `PoolQueue`). */
  poolPass?: boolean;
}

/** A task of the flow, with the counters that make readiness O(edges). */
interface TaskNode {
  readonly spec: TaskSpec;
  readonly order: number;
  readonly upstream: TaskNode[];
  readonly downstream: TaskNode[];
  /** Parent row: the unit's row for an unmapped task, the map's index -1 row otherwise. */
  rowId: number;
  /** The parent row's attempt (an unmapped task's is its unit's). */
  attempt: number;
  state: TaskState;
  /**
   * Ended only because of its upstreams (upstream_failed, cancelled with them, skipped by
   * its trigger rule, not by `if`): a retry or mark-success upstream re-opens it.
   */
  heldBack: boolean;
  tally: { success: number; failed: number; skipped: number; cancelled: number };
  unit?: Unit;
  children?: Unit[];
  childrenLeft: number;
  running: number;
  parked: Unit[];
  /** `max_parallel` as resolved when the map was expanded. */
  maxParallel?: number;
  /** The executor lane its attempts run in, when the executor routes to several. */
  lane?: Lane;
}

/**
 * Units of one pool that found no free slot, highest priority first. While `full`, more
 * units of the pool wait here without asking the database; a slot freeing (one of this
 * run's attempts of the pool ended, or the periodic look covers one elsewhere) lets some
 * of them ask again.
 */
interface PoolQueue {
  readonly units: ReadyQueue<Unit>;
  /** The pool's slots as the last refusal told; null: the pool does not exist. */
  slots: number | null;
  full: boolean;
  /** What the last refusal said, shown on units that wait without asking. */
  reason: WaitReason;
}

/** Attempts of one executor among several (see `RunControllerOptions.lanes`). */
interface Lane {
  readonly slots: number;
  inFlight: number;
  /** Ready units waiting for a slot of this lane. */
  readonly parked: Unit[];
}

/** What the controller tells whoever shows progress. */
export type RunProgress =
  | {
      readonly type: 'task';
      readonly taskId: string;
      readonly mapIndex: number;
      readonly attempt: number;
      readonly state: TaskState;
      readonly message?: string | null;
      readonly retryAt?: number;
    }
  | { readonly type: 'run'; readonly state: RunState };

export interface RunControllerOptions {
  readonly store: Store;
  /** Starts and stops attempts; the controller is told their events via `onExecutorEvent`. */
  readonly launcher: {
    launch(task: ResolvedTask): Promise<void>;
    cancel(taskRunId: number, reason: 'timeout' | 'cancelled'): Promise<void>;
    /** Whether a task's resource request fits its executor now, later or never. */
    fits(resources: ResourceRequest, executor?: string): Fit;
  };
  /** Most attempts running at once for this run (the executor's slots enforce it too). */
  readonly parallelism: number;
  /**
   * For an executor that routes tasks to several (`Capacity.lanes`): the lane a task's
   * `executor:` goes to, and each lane's slots. Attempts are then also counted per lane,
   * so ready Kubernetes tasks beyond the cluster's slots never take the places local tasks
   * could run in, and the other way round.
   */
  readonly lanes?: {
    readonly of: (executor: string | undefined) => string;
    readonly slots: Readonly<Record<string, number>>;
  };
  /**
   * How many attempts beyond `parallelism` may be handed to the executor ahead of time
   * while tasks are short (see `#limit`). Default: 4 × parallelism, more while the
   * database's commits take longer than a few tasks.
   */
  readonly lookahead?: number;
  /** Root of the attempt directories (`.baton/runs`). */
  readonly runsDir: string;
  readonly onProgress?: (p: RunProgress) => void;
  readonly now?: () => number;
  /**
   * The lease this controller drives the run under: every write carries it, and the first
   * write refused for it (another process claimed the run) stops the controller with
   * `LostOwnershipError`, leaving running attempts alone for the new owner to adopt.
   */
  readonly fence?: Fence;
  /**
   * Whether `produces` paths are on this machine to measure (default true); false for an
   * executor whose tasks write elsewhere (a pod): their tasks report metadata themselves.
   */
  readonly measurePaths?: boolean;
  /** The flow's file and text, so an expression failing at run time names its line. */
  readonly source?: { readonly path: string; readonly text: string };
}

/** A dashboard action on one task (or map item) of a run (see `RunController.taskAction`). */
export interface TaskAction {
  readonly kind: 'retry_task' | 'mark_success';
  readonly taskId: string;
  /** The map item acted on; -1 for an unmapped task or every item of a map. */
  readonly mapIndex: number;
  /** The command row asking for it (named in the attempt's message). */
  readonly commandId: number;
}

/** Ended only because of its upstreams, as its row tells (see `TaskNode.heldBack`). */
function isHeldBack(state: TaskState, message: string | null): boolean {
  return (
    state === 'upstream_failed' ||
    state === 'cancelled' ||
    (state === 'skipped' && message === null)
  );
}

/** A batch write found the database in a state this controller did not expect. */
export class LostOwnershipError extends Error {}

/**
 * Drives one run to its end. In-memory state is rebuilt from the store's rows (so a new
 * process resumes where an old one died), every transition is written as one
 * compare-and-set in a batch, and an attempt is launched only after its
 * `queued → running` has committed. The cost of a finished task is proportional to its
 * downstream edges: no step scans all tasks.
 */
export class RunController {
  readonly run: Run;
  readonly #opts: RunControllerOptions;
  readonly #now: () => number;
  readonly #facts: RunFacts;
  readonly #nodes: TaskNode[] = [];
  readonly #byId = new Map<string, TaskNode>();
  readonly #units = new Map<number, Unit>();
  readonly #ready = new ReadyQueue<Unit>();
  /**
   * Resolved attempts whose resource request does not fit the executor yet, in the order
   * they became ready: they launch first as capacity frees, and while one waits nothing
   * behind it launches, so a large request is not starved by small ones.
   */
  #held: [Unit, ResolvedTask][] = [];
  #heldTimer: NodeJS.Timeout | undefined;
  /** Units waiting for a slot of their pool, by pool (see `PoolQueue`). */
  readonly #pools = new Map<string, PoolQueue>();
  readonly #tasksCtx: Record<string, { outputs: unknown }> = {};
  readonly #assetsCtx: Record<string, Record<string, unknown>> = {};
  #base: ExprContext;
  /** Writes of the next batch; null where one was folded into a later write. */
  #writes: (TaskRunWrite | null)[] = [];
  #after: (AfterWrite | undefined)[] = [];
  /** Where a patch of the next batch is in `#writes`, by task run (see `#write`). */
  readonly #patchAt = new Map<number, number>();
  /** Fixed by the caller, else adaptive (see `#limit`). */
  readonly #lookahead: number | undefined;
  /** Moving average of a batch commit, in ms. */
  #avgFlushMs = 0;
  /** Moving average of how long an attempt takes from hand-off to finish, in ms. */
  #avgAttemptMs = Number.POSITIVE_INFINITY;
  #finalNodes = 0;
  #inFlight = 0;
  #ticking = false;
  #again = false;
  #cancelling = false;
  /** Units and nodes whose next attempt's row is being written (see `taskAction`). */
  readonly #reopening = new Set<Unit | TaskNode>();
  #started = false;
  #finished = false;
  #failure: Error | undefined;
  #resolveDone!: (s: RunState) => void;
  #rejectDone!: (e: Error) => void;
  /** Settles with the run's final state once every task is final and recorded. */
  readonly done: Promise<RunState>;

  constructor(run: Run, spec: FlowSpec, opts: RunControllerOptions) {
    this.run = run;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#lookahead = opts.lookahead;
    this.#facts = {
      runId: run.id,
      flow: run.flow,
      logicalDate: run.logicalDate,
      intervalStart: run.intervalStart,
      intervalEnd: run.intervalEnd,
      timezone: run.timezone,
      trigger: run.trigger,
      params: run.params,
      baseDir: run.baseDir,
    };
    this.#base = runContext(this.#facts, this.#tasksCtx, this.#assetsCtx);
    this.done = new Promise((res, rej) => {
      this.#resolveDone = res;
      this.#rejectDone = rej;
    });
    // A run abandoned before anyone awaits `done` must not crash the process as an
    // unhandled rejection; whoever awaits it still gets the error.
    this.done.catch(() => {});
    spec.tasks.forEach((t, order) => {
      const node: TaskNode = {
        spec: t,
        order,
        upstream: [],
        downstream: [],
        rowId: 0,
        attempt: 1,
        state: 'pending',
        heldBack: false,
        tally: { success: 0, failed: 0, skipped: 0, cancelled: 0 },
        childrenLeft: 0,
        running: 0,
        parked: [],
      };
      this.#nodes.push(node);
      this.#byId.set(t.id, node);
    });
    const lanes = new Map<string, Lane>();
    for (const node of this.#nodes) {
      if (opts.lanes) {
        const name = opts.lanes.of(node.spec.executor);
        let lane = lanes.get(name);
        if (!lane) {
          lane = { slots: Math.max(1, opts.lanes.slots[name] ?? 1), inFlight: 0, parked: [] };
          lanes.set(name, lane);
        }
        node.lane = lane;
      }
      for (const up of node.spec.needs) {
        const u = this.#byId.get(up);
        if (u) {
          node.upstream.push(u);
          u.downstream.push(node);
        }
      }
    }
  }

  /** Latest metadata per asset known when the run starts, so `assets.<key>` works. */
  seedAssets(latest: Readonly<Record<string, Record<string, unknown>>>): void {
    Object.assign(this.#assetsCtx, latest);
  }

  /**
   * Rebuilds state from the run's task-run rows and starts driving it. Returns the task
   * runs found `running`: the caller asks the executor to adopt them and reports back
   * through `onExecutorEvent` / `onAdopted`.
   */
  async start(rows: readonly TaskRun[]): Promise<TaskRun[]> {
    if (this.run.state === 'queued')
      await this.#fenced(() =>
        this.#opts.store.moveRun(this.run.id, 'queued', 'running', this.#now(), this.#opts.fence),
      );
    // Every attempt's log and output file lives flat in this one folder (see attemptFiles).
    mkdirSync(runDir(this.#opts.runsDir, this.run.id), { recursive: true });
    const latest = new Map<string, TaskRun>();
    const reasons = new Map<string, string>();
    for (const r of rows) {
      const key = `${r.taskId}\u0000${r.mapIndex}`;
      const prev = latest.get(key);
      if (!prev || prev.attempt < r.attempt) latest.set(key, r);
      reasons.set(`${key}\u0000${r.attempt}`, r.reason ?? '');
    }
    const lastFailure = (unit: Unit): void => {
      const key = `${unit.node.spec.id}\u0000${unit.mapIndex}\u0000${unit.attempt - 1}`;
      unit.lastFailure = reasons.get(key) ?? '';
    };
    const running: TaskRun[] = [];
    const waiting: Unit[] = [];
    for (const node of this.#nodes) {
      const parent = latest.get(`${node.spec.id}\u0000-1`);
      if (!parent) throw new Error(`run ${this.run.id} has no row for task "${node.spec.id}"`);
      node.rowId = parent.id;
      node.attempt = parent.attempt;
      node.state = parent.state;
      node.heldBack = isHeldBack(parent.state, parent.message);
      if (node.spec.map === undefined) {
        const unit = this.#unit(node, -1, parent);
        lastFailure(unit);
        node.unit = unit;
        if (unit.state === 'running') {
          running.push(parent);
          node.running++;
          if (node.lane) node.lane.inFlight++;
        } else waiting.push(unit);
        if (unit.state === 'success') this.#setOutputs(node);
      } else {
        node.children = [];
        for (const r of latest.values()) {
          if (r.taskId !== node.spec.id || r.mapIndex < 0) continue;
          const unit = this.#unit(node, r.mapIndex, r);
          unit.item = (r.resolved as { item?: unknown } | null)?.item;
          lastFailure(unit);
          node.children[r.mapIndex] = unit;
          if (unit.state === 'running') {
            running.push(r);
            node.running++;
            if (node.lane) node.lane.inFlight++;
          } else waiting.push(unit);
          if (!FINAL.has(unit.state)) node.childrenLeft++;
        }
        if (node.state === 'success' || node.state === 'running') this.#setOutputs(node);
        const resolvedLimit = (parent.sizing as { max_parallel?: { value?: unknown } } | null)
          ?.max_parallel?.value;
        if (typeof resolvedLimit === 'number') node.maxParallel = resolvedLimit;
      }
    }
    // Counters: each node learns the final states of its upstreams once.
    for (const node of this.#nodes) {
      if (FINAL.has(node.state)) {
        this.#finalNodes++;
        for (const d of node.downstream) this.#count(d, node.state);
      }
    }
    this.#inFlight = running.length;
    for (const unit of waiting) {
      if (unit.state === 'queued') this.#ready.push(unit);
      else if (unit.state === 'up_for_retry') this.#armRetry(unit, unit.retryAt ?? null);
    }
    for (const node of this.#nodes) {
      if (node.state === 'pending') this.#consider(node);
      else if (node.state === 'running' && node.children && node.childrenLeft === 0)
        this.#finishMap(node);
    }
    this.#started = true;
    this.#kick();
    return running;
  }

  /** Handles an executor event for one of this run's attempts; false if it is not ours. */
  onExecutorEvent(ev: ExecutorEvent): boolean {
    const unit = this.#units.get(ev.taskRunId);
    if (!unit) return false;
    if (ev.type === 'started') {
      unit.ranFrom = ev.at;
      this.#write({
        kind: 'patch',
        id: unit.rowId,
        state: 'running',
        patch: { handle: ev.handle, ...(unit.waitingFor ? { waitReason: null } : {}) },
      });
      unit.waitingFor = null;
    } else if (ev.type === 'waiting') {
      if (unit.state === 'running' && unit.ranFrom === undefined)
        this.#recordWait(unit, executorWait(ev.message, ev.at));
    } else if (unit.state === 'running') {
      // How long the task itself ran, from the executor's own reports: what the database
      // adds around it must not make short tasks look long (see `#limit`).
      if (unit.ranFrom !== undefined) {
        const took = Math.max(0, ev.at - unit.ranFrom);
        this.#avgAttemptMs = Number.isFinite(this.#avgAttemptMs)
          ? this.#avgAttemptMs * 0.9 + took * 0.1
          : took;
      }
      this.#finishAttempt(unit, ev.exitCode, ev.reason, ev.message ?? null, ev.signal, ev.usage);
    }
    this.#kick();
    return true;
  }

  /** Records what adoption found for a task run that was `running` when this process started. */
  onAdopted(
    taskRunId: number,
    status: 'running' | 'finished' | 'lost',
    exitCode: number | null,
    message?: string,
    signal?: string,
  ): void {
    const unit = this.#units.get(taskRunId);
    if (unit?.state !== 'running' || status === 'running') return;
    if (status === 'lost')
      this.#finishUnit(unit, null, 'lost', message ?? 'the process is gone', undefined);
    else
      this.#finishAttempt(unit, exitCode, exitCode === null ? 'signal' : 'exit_code', null, signal);
    this.#kick();
  }

  /**
   * Launches again an attempt that adoption found the executor never started (the
   * process that was to start it died first): same attempt, same resolved task.
   */
  relaunch(task: ResolvedTask): void {
    const unit = this.#units.get(task.taskRunId);
    if (unit?.state !== 'running') return;
    this.#launch(unit, task);
  }

  /** Cancels the run: running attempts are killed, nothing new starts, everything ends `cancelled`. */
  cancel(): void {
    if (this.#cancelling || this.#finished) return;
    this.#cancelling = true;
    void this.#opts.store.addEvent(this.run.id, 'cancel_requested', null, this.#now());
    for (const unit of this.#ready.drain()) this.#moveUnit(unit, 'queued', 'cancelled', {});
    for (const [unit] of this.#held.splice(0)) this.#moveUnit(unit, 'queued', 'cancelled', {});
    for (const queue of this.#pools.values())
      for (const unit of queue.units.drain()) this.#moveUnit(unit, 'queued', 'cancelled', {});
    for (const node of this.#nodes) {
      for (const unit of node.parked.splice(0)) this.#moveUnit(unit, 'queued', 'cancelled', {});
      for (const unit of node.lane?.parked.splice(0) ?? [])
        this.#moveUnit(unit, 'queued', 'cancelled', {});
      if (node.state === 'pending') {
        node.heldBack = true;
        this.#moveNode(node, 'pending', 'cancelled');
      }
    }
    for (const unit of this.#units.values()) {
      if (unit.state === 'up_for_retry') {
        clearTimeout(unit.retryTimer);
        this.#moveUnit(unit, 'up_for_retry', 'cancelled', {});
      } else if (unit.state === 'running') {
        void this.#opts.launcher.cancel(unit.rowId, 'cancelled').catch(() => {});
      }
    }
    this.#kick();
  }

  /**
   * Applies a dashboard action on a task of this live run (`retry_task`: a new attempt of
   * each failed target; `mark_success`: each ended target that did not succeed becomes
   * `success`). What the task held back downstream (upstream_failed, cancelled with it,
   * skipped by a trigger rule) is re-opened as a new pending attempt and decided again,
   * and the run carries on. History is kept: every earlier attempt stays as it ended.
   * Returns undefined while the controller cannot act (not started yet, or the run is
   * ending): the caller leaves the command for a later look.
   */
  taskAction(action: TaskAction): { ok: boolean; message: string } | undefined {
    if (!this.#started || this.#finished || this.#failure) return undefined;
    const reject = (message: string) => ({ ok: false, message });
    if (this.#cancelling) return reject(`run ${this.run.id} is being cancelled`);
    const node = this.#byId.get(action.taskId);
    if (!node) return reject(`run ${this.run.id} has no task "${action.taskId}"`);
    const mapIndex = action.mapIndex;
    if (node.spec.map === undefined && mapIndex >= 0)
      return reject(`task "${node.spec.id}" is not a map: it has no item ${mapIndex}`);
    const retry = action.kind === 'retry_task';
    // A target whose next attempt is being written already is not acted on twice.
    const acts = (state: TaskState, what: Unit | TaskNode) =>
      !this.#reopening.has(what) &&
      (retry ? state === 'failed' : FINAL.has(state) && state !== 'success');
    const name = (u: Unit) =>
      u.mapIndex >= 0 ? `task "${u.node.spec.id}" item ${u.mapIndex}` : `task "${u.node.spec.id}"`;
    const note = `(command #${action.commandId})`;
    if (node.spec.map !== undefined && !node.children) {
      // A map that never fanned out (its list failed, or an upstream held it back): acted
      // on as a whole; a retry evaluates its list again.
      if (!acts(node.state, node))
        return reject(`task "${node.spec.id}" is ${node.state}${retry ? ', not failed' : ''}`);
      this.#reopen(node);
      if (retry) this.#reopenAsPending(node);
      else {
        node.heldBack = false;
        this.#moveNode(node, node.state, 'success', { message: `marked success ${note}` });
      }
      this.#kick();
      return {
        ok: true,
        message: `${retry ? 'retrying' : 'marked success:'} task "${node.spec.id}" in running run ${this.run.id}`,
      };
    }
    const targets = node.children
      ? mapIndex >= 0
        ? node.children.filter((u) => u?.mapIndex === mapIndex)
        : node.children.filter((u) => u !== undefined)
      : [node.unit as Unit];
    if (targets.length === 0) return reject(`task "${node.spec.id}" has no item ${mapIndex}`);
    const acted = targets.filter((u) => acts(u.state, u));
    if (acted.length === 0) {
      const [only] = targets;
      return reject(
        targets.length === 1 && only
          ? `${name(only)} is ${only.state}${retry ? ', not failed' : only.state === 'success' ? '' : ': wait for it to end'}`
          : retry
            ? `task "${node.spec.id}" has no failed item`
            : `task "${node.spec.id}" has no ended item that did not succeed`,
      );
    }
    if (FINAL.has(node.state)) {
      this.#reopen(node);
      if (node.children) {
        // The map decides its own state again once its items have ended.
        this.#write({
          kind: 'move',
          id: node.rowId,
          from: node.state,
          to: 'running',
          patch: { message: null, reason: null, endedAt: null },
        });
        node.state = 'running';
      }
    }
    if (node.children) node.childrenLeft += acted.length;
    for (const unit of acted) {
      if (retry) this.#newAttempt(unit, 'queued');
      else {
        if (!node.children) node.heldBack = false;
        this.#moveUnit(unit, unit.state, 'success', { message: `marked success ${note}` });
      }
    }
    this.#kick();
    const what =
      acted.length === 1
        ? name(acted[0] as Unit)
        : `${acted.length} items of task "${node.spec.id}"`;
    return {
      ok: true,
      message: `${retry ? 'retrying' : 'marked success:'} ${what} in running run ${this.run.id}`,
    };
  }

  /**
   * A final node is final no more: its downstream tasks forget its state, and those it
   * held back are re-opened too (recursively, each once). Their states change when their
   * new rows are written; until then they look ended, so nothing decides them early.
   */
  #reopen(node: TaskNode): void {
    if (!FINAL.has(node.state)) return;
    this.#finalNodes--;
    for (const d of node.downstream) {
      this.#count(d, node.state, -1);
      if (FINAL.has(d.state) && d.heldBack) {
        this.#reopen(d);
        this.#reopenAsPending(d);
      }
    }
  }

  /** A new pending attempt of a re-opened node, decided again once it is written. */
  #reopenAsPending(node: TaskNode): void {
    node.heldBack = false;
    if (node.unit) {
      this.#newAttempt(node.unit, 'pending');
      return;
    }
    const attempt = node.attempt + 1;
    this.#reopening.add(node);
    this.#write(
      {
        kind: 'insert',
        row: { runId: this.run.id, taskId: node.spec.id, mapIndex: -1, attempt, state: 'pending' },
      },
      (_applied, id) => {
        this.#reopening.delete(node);
        node.rowId = id;
        node.attempt = attempt;
        node.state = 'pending';
        node.children = undefined;
        node.childrenLeft = 0;
        this.#progress(node.spec.id, -1, attempt, 'pending');
        this.#consider(node);
      },
    );
  }

  /**
   * The next attempt of an ended unit, as a new row: `queued` (a retry: it runs when a
   * slot is free) or `pending` (re-opened downstream: decided again by its upstreams).
   */
  #newAttempt(unit: Unit, state: 'queued' | 'pending'): void {
    const attempt = unit.attempt + 1;
    const node = unit.node;
    this.#reopening.add(unit);
    this.#write(
      {
        kind: 'insert',
        row: {
          runId: this.run.id,
          taskId: node.spec.id,
          mapIndex: unit.mapIndex,
          attempt,
          state,
          ...(state === 'queued' ? { queuedAt: this.#now() } : {}),
          resolved: unit.mapIndex >= 0 ? { item: unit.item } : null,
        },
      },
      (_applied, id) => {
        this.#reopening.delete(unit);
        this.#units.delete(unit.rowId);
        unit.rowId = id;
        unit.attempt = attempt;
        unit.state = state;
        unit.waitingFor = null;
        unit.outputs = null;
        if (!node.children) {
          node.rowId = id;
          node.attempt = attempt;
          node.state = state;
        }
        this.#units.set(id, unit);
        this.#progress(node.spec.id, unit.mapIndex, attempt, state);
        if (state === 'pending') this.#consider(node);
        else if (this.#cancelling) this.#moveUnit(unit, 'queued', 'cancelled', {});
        else this.#ready.push(unit);
      },
    );
  }

  // --- state changes -------------------------------------------------------------------

  #unit(node: TaskNode, mapIndex: number, row: TaskRun): Unit {
    const unit: Unit = {
      node,
      mapIndex,
      priority: node.spec.priority,
      order: node.order,
      rowId: row.id,
      attempt: row.attempt,
      state: row.state,
      outputs: row.outputs as Record<string, unknown> | null,
      retryAt: row.retryAt,
      waitingFor: row.waitReason?.message ?? null,
      lastFailure: '',
    };
    this.#units.set(row.id, unit);
    return unit;
  }

  #setOutputs(node: TaskNode): void {
    if (node.children) {
      this.#tasksCtx[node.spec.id] = { outputs: node.children.map((u) => u?.outputs ?? {}) };
    } else {
      this.#tasksCtx[node.spec.id] = { outputs: node.unit?.outputs ?? {} };
    }
  }

  #count(node: TaskNode, upstreamState: TaskState, by = 1): void {
    const t = node.tally;
    if (upstreamState === 'success') t.success += by;
    else if (upstreamState === 'skipped') t.skipped += by;
    else if (upstreamState === 'cancelled') t.cancelled += by;
    else t.failed += by;
  }

  /** Decides a pending node once its upstreams allow it. */
  #consider(node: TaskNode): void {
    if (node.state !== 'pending') return;
    if (this.#cancelling) {
      node.heldBack = true;
      this.#moveNode(node, 'pending', 'cancelled');
      return;
    }
    const t = node.tally;
    const pending = node.upstream.length - t.success - t.failed - t.skipped - t.cancelled;
    let decision: TriggerDecision =
      t.cancelled > 0 && pending === 0
        ? 'upstream_failed'
        : decide(node.spec.trigger, {
            success: t.success,
            failed: t.failed + t.cancelled,
            skipped: t.skipped,
            cancelled: 0,
            pending,
          });
    if (decision === 'wait') return;
    let message: string | null = null;
    if (decision === 'run') {
      try {
        if (!evaluateIf(node.spec, this.#base)) {
          decision = 'skipped';
          message = `if: ${node.spec.if} is false`;
        }
      } catch (e) {
        this.#moveNode(node, 'pending', 'failed', {
          reason: 'expression',
          message: this.#located(e),
        });
        return;
      }
    }
    if (decision === 'skipped' || decision === 'upstream_failed') {
      node.heldBack = message === null;
      this.#moveNode(node, 'pending', decision, message ? { message } : {});
      return;
    }
    if (node.spec.map === undefined) {
      const unit = node.unit as Unit;
      const at = this.#now();
      // Recorded with the move, so it costs no write of its own; the move to running
      // (often in the same batch) clears it.
      const waitReason = slotWait(at);
      unit.waitingFor = waitReason.message;
      const pool = node.spec.pool;
      this.#moveUnit(
        unit,
        'pending',
        'queued',
        pool === undefined ? { queuedAt: at, waitReason } : { queuedAt: at, waitReason, pool },
      );
      node.state = 'queued';
      this.#ready.push(unit);
      return;
    }
    let items: unknown[];
    const sizing: Record<string, unknown> = {};
    try {
      items = evaluateMap(node.spec, this.#base);
      const limit = evaluateMaxParallel(node.spec, this.#base);
      if (limit !== undefined) node.maxParallel = limit;
      sizing.map = sizingDecision(items.length, node.spec.map, this.#base, true);
      if (limit !== undefined)
        sizing.max_parallel = sizingDecision(limit, node.spec.maxParallel, this.#base);
    } catch (e) {
      this.#moveNode(node, 'pending', 'failed', {
        reason: 'expression',
        message: this.#located(e),
      });
      return;
    }
    if (items.length === 0) {
      this.#moveNode(node, 'pending', 'skipped', { message: 'map: the list is empty' });
      return;
    }
    const at = this.#now();
    this.#write({
      kind: 'move',
      id: node.rowId,
      from: 'pending',
      to: 'queued',
      patch: { queuedAt: at },
    });
    this.#write({
      kind: 'move',
      id: node.rowId,
      from: 'queued',
      to: 'running',
      patch: { startedAt: at, resolved: { items: items.length }, sizing },
    });
    node.state = 'running';
    node.children = [];
    node.childrenLeft = items.length;
    items.forEach((item, mapIndex) => {
      const unit: Unit = {
        node,
        mapIndex,
        priority: node.spec.priority,
        order: node.order,
        rowId: 0,
        attempt: 1,
        state: 'queued',
        item,
        outputs: null,
        lastFailure: '',
      };
      (node.children as Unit[])[mapIndex] = unit;
      this.#write(
        {
          kind: 'insert',
          row: {
            runId: this.run.id,
            taskId: node.spec.id,
            mapIndex,
            attempt: 1,
            state: 'queued',
            queuedAt: at,
            resolved: { item },
            pool: node.spec.pool ?? null,
          },
        },
        (_applied, id) => {
          unit.rowId = id;
          this.#units.set(id, unit);
          if (this.#cancelling) this.#moveUnit(unit, 'queued', 'cancelled', {});
          else this.#ready.push(unit);
        },
      );
    });
    this.#progress(node.spec.id, -1, 1, 'running');
  }

  /** Moves a node's parent row (and, unmapped, its unit) to a final state and propagates. */
  #moveNode(node: TaskNode, from: TaskState, to: TaskState, patch: TaskRunPatch = {}): void {
    if (node.unit) {
      this.#moveUnit(node.unit, from, to, patch);
      return;
    }
    this.#write({
      kind: 'move',
      id: node.rowId,
      from,
      to,
      patch: { ...patch, endedAt: this.#now() },
    });
    node.state = to;
    this.#progress(node.spec.id, -1, 1, to, patch.message);
    if (FINAL.has(to)) this.#nodeFinal(node);
  }

  #moveUnit(unit: Unit, from: TaskState, to: TaskState, patch: TaskRunPatch): void {
    const final = FINAL.has(to) || to === 'up_for_retry';
    this.#write({
      kind: 'move',
      id: unit.rowId,
      from,
      to,
      patch: final ? { ...patch, endedAt: this.#now() } : patch,
    });
    unit.state = to;
    this.#progress(
      unit.node.spec.id,
      unit.mapIndex,
      unit.attempt,
      to,
      patch.message,
      patch.retryAt ?? undefined,
    );
    if (FINAL.has(to)) this.#unitFinal(unit);
  }

  /**
   * An attempt ended. A success whose task `produces` a local path is measured first
   * (streaming, off the event loop's critical path); everything else finishes at once.
   */
  #finishAttempt(
    unit: Unit,
    exitCode: number | null,
    reason: FinishReason,
    message: string | null,
    signal: string | undefined,
    usage?: Usage,
  ): void {
    const spec = unit.node.spec;
    if (reason !== 'exit_code' || exitCode !== 0 || this.#cancelling) {
      this.#finishUnit(unit, exitCode, reason, message, signal, usage);
      return;
    }
    try {
      unit.produced = producedAssets(spec, this.#facts, this.#unitRef(unit), this.#base);
      if (this.#opts.measurePaths === false)
        unit.produced = unit.produced.map(({ path: _elsewhere, ...p }) => p);
    } catch (e) {
      unit.produced = undefined;
      this.#finishUnit(unit, null, 'expression', this.#located(e), undefined, usage);
      return;
    }
    if (!unit.produced.some((p) => p.path !== undefined)) {
      this.#finishUnit(unit, exitCode, reason, message, signal, usage);
      return;
    }
    void measureProduced(unit.produced)
      .catch((e: unknown) => ({ measured: new Map(), problem: (e as Error).message }))
      .then(({ measured, problem }) => {
        if (this.#failure) return;
        unit.measured = measured;
        if (problem === undefined) this.#finishUnit(unit, exitCode, reason, message, signal, usage);
        else this.#finishUnit(unit, exitCode, 'exit_code', problem, signal, usage, true);
        this.#kick();
      });
  }

  #finishUnit(
    unit: Unit,
    exitCode: number | null,
    reason: FinishReason | 'expression',
    message: string | null,
    signal: string | undefined,
    usage?: Usage,
    /** The task exited 0 but broke the contract (`message` says how): a failure. */
    broken = false,
  ): void {
    this.#leavePlace(unit);
    // This attempt's slot frees with the write below: the next unit of the pool may ask.
    if (unit.node.spec.pool !== undefined) this.#releasePool(unit.node.spec.pool, 1);
    const files = this.#files(unit);
    let state: TaskState;
    const patch: { -readonly [K in keyof TaskRunPatch]: TaskRunPatch[K] } = { exitCode };
    let failure: FailureReason | null = null;
    if (reason === 'cancelled' || this.#cancelling) {
      state = 'cancelled';
      failure = 'cancelled';
      patch.message = message ?? 'cancelled';
    } else if (reason === 'exit_code' && exitCode === 0) {
      const out = broken ? undefined : readTaskOutput(files.output);
      if (out === undefined || out.problem !== undefined) {
        failure = 'exit_code';
        patch.message = out?.problem ?? message;
        state = 'failed';
      } else {
        state = 'success';
        unit.outputs = out.outputs;
        patch.outputs = out.outputs;
        for (const m of materialisations(unit.produced ?? [], out.assets, unit.measured)) {
          // `assets.<key>` in later tasks of this run: what this run produced.
          this.#assetsCtx[m.asset] = m.metadata;
          this.#write({
            kind: 'asset',
            runId: this.run.id,
            taskRunId: unit.rowId,
            asset: m.asset,
            metadata: m.metadata,
            partition: m.partition,
          });
        }
      }
    } else {
      state = 'failed';
      failure = reason;
      patch.message =
        message ??
        (reason === 'exit_code'
          ? `exited with code ${exitCode}`
          : reason === 'signal'
            ? `killed by ${signal ?? 'a signal'}`
            : reason === 'timeout'
              ? `timed out${unit.node.spec.timeoutMs === undefined ? '' : ` after ${unit.node.spec.timeoutMs} ms`}`
              : reason);
    }
    patch.reason = failure;
    if (usage?.peakMemoryBytes !== undefined) patch.peakMemoryBytes = usage.peakMemoryBytes;
    if (usage?.cpuMs !== undefined) patch.cpuMs = usage.cpuMs;
    unit.produced = undefined;
    unit.measured = undefined;
    if (state === 'failed' && unit.attempt <= unit.node.spec.retries) {
      unit.lastFailure = failure ?? '';
      const spec = unit.node.spec;
      const delay = Math.min(
        spec.retryDelayMs * spec.retryBackoff ** (unit.attempt - 1),
        86_400_000,
      );
      const retryAt = this.#now() + delay;
      patch.retryAt = retryAt;
      patch.waitReason = retryWait(unit.attempt + 1, retryAt, this.#now());
      this.#moveUnit(unit, 'running', 'up_for_retry', patch);
      this.#armRetry(unit, retryAt);
    } else {
      this.#moveUnit(unit, 'running', state, patch);
    }
  }

  #armRetry(unit: Unit, retryAt: number | null): void {
    const wait = Math.max(0, (retryAt ?? 0) - this.#now());
    unit.retryTimer = setTimeout(() => {
      unit.retryTimer = undefined;
      if (this.#cancelling || unit.state !== 'up_for_retry') return;
      const attempt = unit.attempt + 1;
      this.#write(
        {
          kind: 'insert',
          row: {
            runId: this.run.id,
            taskId: unit.node.spec.id,
            mapIndex: unit.mapIndex,
            attempt,
            state: 'queued',
            queuedAt: this.#now(),
            resolved: unit.mapIndex >= 0 ? { item: unit.item } : null,
            pool: unit.node.spec.pool ?? null,
          },
        },
        (_applied, id) => {
          unit.rowId = id;
          unit.attempt = attempt;
          unit.state = 'queued';
          unit.waitingFor = null;
          this.#units.set(id, unit);
          this.#progress(unit.node.spec.id, unit.mapIndex, attempt, 'queued');
          if (this.#cancelling) this.#moveUnit(unit, 'queued', 'cancelled', {});
          else this.#ready.push(unit);
        },
      );
      this.#kick();
    }, wait);
  }

  #unitFinal(unit: Unit): void {
    const node = unit.node;
    if (!node.children) {
      node.state = unit.state;
      if (unit.state === 'success') this.#setOutputs(node);
      this.#nodeFinal(node);
      return;
    }
    node.childrenLeft--;
    if (node.childrenLeft === 0 && node.state === 'running') this.#finishMap(node);
  }

  #finishMap(node: TaskNode): void {
    const children = node.children ?? [];
    const failed = children.filter((u) => u.state !== 'success').length;
    this.#setOutputs(node);
    const to: TaskState =
      this.#cancelling && failed > 0 ? 'cancelled' : failed > 0 ? 'failed' : 'success';
    const patch: TaskRunPatch =
      failed > 0
        ? {
            message: `${failed} of ${children.length} map items did not succeed`,
            reason: 'exit_code',
          }
        : { outputs: { items: children.length } };
    this.#moveNode(node, 'running', to, patch);
  }

  /** A node reached its final state: tell each downstream, once. Iterative, not recursive. */
  #nodeFinal(node: TaskNode): void {
    this.#finalNodes++;
    for (const d of node.downstream) {
      this.#count(d, node.state);
      this.#consider(d);
    }
  }

  /**
   * A unit marked running gives its place back (the run's parallelism, its lane's slots,
   * its task's max_parallel): the next unit parked for the lane or the task may go.
   */
  #leavePlace(unit: Unit): void {
    this.#inFlight--;
    unit.node.running--;
    const lane = unit.node.lane;
    if (lane) {
      lane.inFlight--;
      const next = lane.parked.shift();
      if (next) this.#ready.push(next);
    }
    const next = unit.node.parked.shift();
    if (next) this.#ready.push(next);
  }

  // --- launching and writing -----------------------------------------------------------

  #unitRef(unit: Unit) {
    const files = this.#files(unit);
    return {
      taskRunId: unit.rowId,
      mapIndex: unit.mapIndex,
      attempt: unit.attempt,
      lastFailure: unit.lastFailure,
      item: unit.item,
      logPath: files.log,
      outputPath: files.output,
    };
  }

  /**
   * The message of an expression that failed on this run's data, led by where the flow
   * writes it (`flows/sales.yaml:14: task "clean": resources.memory: …`).
   */
  #located(e: unknown): string {
    const message = e instanceof Error ? e.message : String(e);
    const source = this.#opts.source;
    if (!(e instanceof ExpressionError) || source === undefined) return message;
    const { task, field } = e.details as { task?: unknown; field?: unknown };
    if (typeof task !== 'string' || typeof field !== 'string') return message;
    return `${sourceLocation(source.path, source.text, taskFieldPath(task, field))}: ${message}`;
  }

  #files(unit: Unit): { log: string; output: string } {
    return attemptFiles(this.#opts.runsDir, {
      runId: this.run.id,
      taskId: unit.node.spec.id,
      mapIndex: unit.mapIndex,
      attempt: unit.attempt,
    });
  }

  /** Takes ready units while slots are free; returns them with their resolved task. */
  #pickLaunches(): [Unit, ResolvedTask][] {
    const out: [Unit, ResolvedTask][] = [];
    const picked: Picked = new Map();
    if (!this.#pickHeld(out, picked)) return out;
    while (this.#inFlight < this.#limit && this.#ready.size > 0 && !this.#cancelling) {
      const unit = this.#ready.pop() as Unit;
      const node = unit.node;
      const maxParallel = node.maxParallel;
      if (maxParallel !== undefined && node.running >= maxParallel) {
        node.parked.push(unit);
        this.#recordWait(unit, maxParallelWait(node.spec.id, maxParallel, this.#now()));
        continue;
      }
      const lane = node.lane;
      if (lane && lane.inFlight >= this.#laneLimit(lane)) {
        lane.parked.push(unit);
        continue;
      }
      const poolQueue = node.spec.pool === undefined ? undefined : this.#pools.get(node.spec.pool);
      if (poolQueue?.full && !unit.poolPass) {
        poolQueue.units.push(unit);
        this.#recordWait(unit, poolQueue.reason);
        continue;
      }
      unit.poolPass = false;
      let task: ResolvedTask;
      let sizing: Record<string, unknown>;
      try {
        ({ sizing, ...task } = resolveTask(
          node.spec,
          this.#facts,
          this.#unitRef(unit),
          this.#base,
        ));
      } catch (e) {
        this.#moveUnit(unit, 'queued', 'failed', {
          reason: 'expression',
          message: this.#located(e),
        });
        continue;
      }
      unit.sizing = sizing;
      const fit = this.#fit(task, picked);
      if (fit.fits === 'never') {
        this.#moveUnit(unit, 'queued', 'failed', { reason: 'unschedulable', message: fit.message });
        continue;
      }
      if (fit.fits === 'later') {
        this.#held.push([unit, task]);
        this.#recordWait(unit, resourcesWait(fit.message, this.#now()));
        this.#recheckHeldSoon();
        break;
      }
      this.#markRunning(unit, task, out);
    }
    return out;
  }

  /** Moves a resolved unit to running (launched once the move commits). */
  #markRunning(unit: Unit, task: ResolvedTask, out: [Unit, ResolvedTask][]): void {
    this.#inFlight++;
    unit.node.running++;
    if (unit.node.lane) unit.node.lane.inFlight++;
    const patch: { -readonly [K in keyof TaskRunPatch]: TaskRunPatch[K] } = {
      startedAt: this.#now(),
      resolved: { ...task, item: unit.item },
    };
    if (unit.sizing && Object.keys(unit.sizing).length > 0) patch.sizing = unit.sizing;
    unit.sizing = undefined;
    const waited = unit.waitingFor;
    if (waited) patch.waitReason = null;
    unit.waitingFor = null;
    const pool = unit.node.spec.pool;
    if (pool === undefined) this.#moveUnit(unit, 'queued', 'running', patch);
    else {
      // The store starts it only if the pool has a free slot, counted in the same
      // transaction; it is shown as running only once that committed.
      unit.state = 'running';
      this.#write(
        { kind: 'move', id: unit.rowId, from: 'queued', to: 'running', patch, pool },
        (_applied, _id, refusal) => {
          if (refusal) this.#poolRefused(unit, refusal, waited ?? null);
          else this.#progress(unit.node.spec.id, unit.mapIndex, unit.attempt, 'running');
        },
      );
    }
    out.push([unit, task]);
  }

  /**
   * The pool had no free slot for a unit marked running: undo the marking and let it wait
   * in its pool's queue, with the reason on its row, until a slot may have freed.
   */
  #poolRefused(unit: Unit, refusal: PoolRefusal, waited: string | null): void {
    // A unit parked for its place must not wait for this one, which may wait for its pool
    // a long time.
    this.#leavePlace(unit);
    unit.state = 'queued';
    if (this.#cancelling) {
      this.#moveUnit(unit, 'queued', 'cancelled', {});
      return;
    }
    const reason = poolWait(refusal.pool, refusal.slots, refusal.used, this.#now());
    let queue = this.#pools.get(refusal.pool);
    if (!queue) {
      queue = { units: new ReadyQueue<Unit>(), slots: refusal.slots, full: true, reason };
      this.#pools.set(refusal.pool, queue);
    }
    queue.slots = refusal.slots;
    queue.full = true;
    queue.reason = reason;
    queue.units.push(unit);
    // The refused move did not clear the row's reason: it still shows `waited`.
    unit.waitingFor = waited;
    this.#recordWait(unit, reason);
    this.#recheckHeldSoon();
  }

  /**
   * Lets up to `count` units waiting for `pool` ask for a slot again (highest priority
   * first); the rest keep waiting without asking until the next release.
   */
  #releasePool(pool: string, count: number): void {
    const queue = this.#pools.get(pool);
    if (!queue) return;
    for (let i = 0; i < count && queue.units.size > 0; i++) {
      const unit = queue.units.pop() as Unit;
      unit.poolPass = true;
      this.#ready.push(unit);
    }
    // Units still waiting go first when a slot frees: newcomers queue behind them.
    queue.full = queue.units.size > 0;
  }

  /**
   * Launches held units, in order, while they fit; false while one still waits (nothing
   * behind it may start).
   */
  #pickHeld(out: [Unit, ResolvedTask][], picked: Picked): boolean {
    while (this.#held.length > 0 && !this.#cancelling) {
      const [unit, task] = this.#held[0] as [Unit, ResolvedTask];
      const fit = this.#fit(task, picked);
      if (fit.fits !== 'now') {
        this.#recordWait(unit, resourcesWait(fit.message, this.#now()));
        this.#recheckHeldSoon();
        return false;
      }
      this.#held.shift();
      this.#markRunning(unit, task, out);
    }
    return true;
  }

  /**
   * Asks the executor whether a request fits, counting what this tick already picked (not
   * yet launched, so the executor does not know it). Tasks without a resource request
   * are governed by the slot count alone and are not asked about: the hot path stays as
   * it was.
   */
  #fit(task: ResolvedTask, picked: Picked): Fit {
    const { resources, executor } = task;
    // Each executor of a routing one has its own budget: count picks per lane.
    const lane = this.#opts.lanes?.of(executor) ?? '';
    const mine = picked.get(lane) ?? { cpu: 0, memoryBytes: 0 };
    picked.set(lane, mine);
    if (resources.cpu === undefined && resources.memoryBytes === undefined) {
      mine.cpu += 1;
      return { fits: 'now' };
    }
    const launcher = this.#opts.launcher;
    const own = launcher.fits(resources, executor);
    if (own.fits !== 'now') return own;
    const cpu = resources.cpu ?? 1;
    const memoryBytes = resources.memoryBytes ?? 0;
    if (mine.cpu > 0 || mine.memoryBytes > 0) {
      const together = launcher.fits(
        { cpu: cpu + mine.cpu, memoryBytes: memoryBytes + mine.memoryBytes },
        executor,
      );
      if (together.fits !== 'now')
        return {
          fits: 'later',
          message:
            together.fits === 'later'
              ? together.message
              : 'waiting for CPU or memory: the tasks this run just started hold it',
        };
    }
    mine.cpu += cpu;
    mine.memoryBytes += memoryBytes;
    return { fits: 'now' };
  }

  /**
   * Capacity may also free when another run's attempt ends, which this controller hears
   * nothing about: while a unit is held, look again every so often.
   */
  #recheckHeldSoon(): void {
    if (this.#heldTimer) return;
    this.#heldTimer = setTimeout(() => {
      this.#heldTimer = undefined;
      // A slot of a pool may have freed in another run or process: as many units as the
      // pool has slots (one when unknown) ask again; they come back here if refused.
      for (const [pool, queue] of this.#pools) {
        if (queue.units.size === 0) continue;
        this.#releasePool(pool, Math.max(1, queue.slots ?? 1));
        if (queue.units.size > 0) this.#recheckHeldSoon();
      }
      this.#kick();
    }, heldRecheckMs);
  }

  /** Records why a queued unit waits, when that changed since the last record. */
  #recordWait(unit: Unit, reason: WaitReason): void {
    if (unit.waitingFor === reason.message || unit.rowId === 0) return;
    unit.waitingFor = reason.message;
    this.#write({
      kind: 'patch',
      id: unit.rowId,
      state: unit.state,
      patch: { waitReason: reason },
    });
  }

  /**
   * Most attempts handed to the executor at once. While attempts are short (under 20 ms
   * on average, from their start to their end as the executor reports them) a few more than `parallelism` are handed over ahead of time to wait in
   * the executor's queue: it starts the next one the moment a slot frees instead of after
   * a round trip through this controller and the database, and one transaction records
   * several launches: a 10,000-task run of `true` at 2 slots took 11.9 s with it and
   * 12.9 s without (2026-11-25). Long tasks gain nothing from it, and a task shown as
   * running for an hour while it waits would mislead, so then it is off.
   */
  get #limit(): number {
    const p = this.#opts.parallelism;
    if (!(this.#avgAttemptMs < 20)) return p;
    if (this.#lookahead !== undefined) return p + this.#lookahead;
    // Enough queued in the executor to keep every slot busy through one commit: on
    // PostgreSQL a commit can take as long as ten short tasks (a 1,000-task wide run went
    // from 51 s to 12 s when the look-ahead stopped counting commit time as task time).
    // And through the gathering of events before it (see #kick).
    const perSlot = Math.ceil((this.#avgFlushMs + GATHER_MS) / Math.max(this.#avgAttemptMs, 1));
    return p + p * Math.min(32, Math.max(4, perSlot));
  }

  /** A lane's share of `#limit`: its slots, with the same look-ahead. */
  #laneLimit(lane: Lane): number {
    return Math.max(1, Math.floor((lane.slots * this.#limit) / this.#opts.parallelism));
  }

  /** Hands an attempt to the executor; a failure to launch fails the attempt, not the run. */
  #launch(unit: Unit, task: ResolvedTask): void {
    this.#opts.launcher.launch(task).catch((e: unknown) => {
      if (unit.state === 'running' && unit.rowId === task.taskRunId) {
        this.#finishUnit(unit, null, 'launch_error', (e as Error).message, undefined);
        this.#kick();
      }
    });
  }

  #canLaunch(): boolean {
    return (
      this.#ready.size > 0 &&
      this.#held.length === 0 &&
      this.#inFlight < this.#limit &&
      !this.#cancelling &&
      !this.#finished
    );
  }

  #write(w: TaskRunWrite, after?: AfterWrite): void {
    if (w.kind === 'patch') this.#patchAt.set(w.id, this.#writes.length);
    else if (w.kind === 'move') {
      const at = this.#patchAt.get(w.id);
      const patch = at === undefined ? null : this.#writes[at];
      // Not into a move that asks for a pool slot: a refused move writes nothing, and the
      // patch must still apply.
      if (at !== undefined && patch?.kind === 'patch' && patch.state === w.from && !w.pool) {
        // A short task's start (its handle) and its end usually fall in one batch: one
        // UPDATE carries both instead of two, in the same transaction (one statement less
        // of seven per task; the move's compare-and-set covers the patch's).
        w = { ...w, patch: { ...patch.patch, ...w.patch } };
        this.#writes[at] = null;
      }
      if (at !== undefined) this.#patchAt.delete(w.id);
    }
    this.#writes.push(w);
    this.#after.push(after);
  }

  async #flush(): Promise<void> {
    while (this.#writes.length > 0) {
      const writes: TaskRunWrite[] = [];
      const after: (AfterWrite | undefined)[] = [];
      for (let i = 0; i < this.#writes.length; i++) {
        const w = this.#writes[i];
        if (!w) continue;
        writes.push(w);
        after.push(this.#after[i]);
      }
      this.#writes = [];
      this.#after = [];
      this.#patchAt.clear();
      const t0 = performance.now();
      const res = await this.#fenced(() =>
        this.#opts.store.writeBatch(writes, this.#now(), this.#opts.fence),
      );
      this.#avgFlushMs = this.#avgFlushMs * 0.9 + (performance.now() - t0) * 0.1;
      const refusals = res.refusals === undefined ? undefined : new Map<number, PoolRefusal>();
      for (const r of res.refusals ?? []) refusals?.set(r.index, r);
      for (let i = 0; i < writes.length; i++) {
        const w = writes[i] as TaskRunWrite;
        const refusal = refusals?.get(i);
        if (refusal) {
          after[i]?.(false, 0, refusal);
          continue;
        }
        if (!res.applied[i] && (w.kind === 'move' || w.kind === 'patch')) {
          throw new LostOwnershipError(
            `run ${this.run.id}: task run ${w.id} was changed by another process; stopping (resume with --resume ${this.run.id})`,
          );
        }
        after[i]?.(res.applied[i] ?? false, res.ids[i] ?? 0);
      }
    }
  }

  #kick(): void {
    if (this.#failure) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#ticking = true;
    const run = () => {
      this.#tick().catch((e: unknown) => this.#fail(e as Error));
    };
    // With attempts waiting in the executor's queue no slot is idle: gather a few
    // milliseconds of events into one transaction instead of committing after each.
    if (this.#inFlight > this.#opts.parallelism && !this.#cancelling) setTimeout(run, GATHER_MS);
    else setImmediate(run);
  }

  async #tick(): Promise<void> {
    try {
      do {
        this.#again = false;
        const launches = this.#pickLaunches();
        await this.#flush();
        // A unit its pool refused went back to queued: it does not launch.
        for (const [unit, task] of launches) if (unit.state === 'running') this.#launch(unit, task);
        if (this.#finalNodes === this.#nodes.length && this.#inFlight === 0 && !this.#finished) {
          await this.#finishRun();
        }
      } while (this.#again || this.#writes.length > 0 || this.#canLaunch());
    } finally {
      this.#ticking = false;
    }
  }

  async #finishRun(): Promise<void> {
    this.#finished = true;
    let state: RunState = 'success';
    if (this.#cancelling) state = 'cancelled';
    else if (this.#nodes.some((n) => n.state === 'failed' || n.state === 'upstream_failed'))
      state = 'failed';
    await this.#flush();
    await this.#fenced(() =>
      this.#opts.store.moveRun(this.run.id, 'running', state, this.#now(), this.#opts.fence),
    );
    this.#opts.onProgress?.({ type: 'run', state });
    this.#resolveDone(state);
  }

  /** Runs a fenced store write; a refused fence becomes `LostOwnershipError`. */
  async #fenced<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      if (e instanceof BatonError && e.code === 'store.fenced') {
        throw new LostOwnershipError(`run ${this.run.id}: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }

  /**
   * Stops driving the run without touching its attempts: another process now owns it
   * (its heartbeat no longer lists the run). `done` rejects with `LostOwnershipError`.
   */
  abandon(why: string): void {
    this.#fail(new LostOwnershipError(`run ${this.run.id}: ${why}`));
  }

  #fail(e: Error): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#finished = true;
    for (const unit of this.#units.values()) clearTimeout(unit.retryTimer);
    clearTimeout(this.#heldTimer);
    this.#rejectDone(e);
  }

  #progress(
    taskId: string,
    mapIndex: number,
    attempt: number,
    state: TaskState,
    message?: string | null,
    retryAt?: number,
  ): void {
    this.#opts.onProgress?.({
      type: 'task',
      taskId,
      mapIndex,
      attempt,
      state,
      message: message ?? null,
      ...(retryAt ? { retryAt } : {}),
    });
  }

  /** Number of attempts currently running (for capacity accounting and progress). */
  get inFlight(): number {
    return this.#inFlight;
  }
}
