/**
 * The long-running scheduler: claims runs through leases, drives each with a
 * RunController on one shared executor, renews its leases with a heartbeat, and lets go
 * of a run the moment the database says someone else holds it.
 *
 * Several schedulers may share one database. What keeps them from running anything twice
 * is in the database, not here: a claim bumps the run's epoch, every write carries the
 * (owner, epoch) fence, and an executor launches only after its `queued → running` write
 * committed under that fence. What keeps work from being lost: a dead scheduler's leases
 * expire (or, on the same host, its missing process is noticed at once), a survivor claims
 * the runs, rebuilds them from their rows and adopts the attempts still running.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Executor, ExecutorEvent } from '../executors/index.ts';
import type { Run, SchedulerInfo, Store } from '../store/index.ts';
import { applyPendingCommands } from './apply-commands.ts';
import { prepareRun, pumpEvents, runToEnd } from './drive-run.ts';
import { fireDueRuns, type ScheduleCache } from './fire-due-runs.ts';
import { LostOwnershipError, type RunController, type RunProgress } from './run-controller.ts';

/** How long a run stays held without a renewal, unless configured. */
export const DEFAULT_LEASE_MS = 15_000;

/** A unique id for a process that drives runs: readable in `baton show` and logs. */
export function driverId(kind: 'scheduler' | 'run', name?: string): string {
  return `${name ?? `${kind}@${hostname()}`}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/**
 * Keeps a single run's lease alive for a process that drives just that run (`baton run`):
 * registers the process, renews on a timer, and tells `onLost` if the run was taken.
 */
export async function holdRunLease(
  store: Store,
  id: string,
  runId: string,
  leaseMs: number,
  onLost: () => void,
): Promise<{ stop(): Promise<void> }> {
  await store.registerScheduler({ id, kind: 'run', host: hostname(), pid: process.pid });
  let busy = false;
  const timer = setInterval(
    () => {
      if (busy) return;
      busy = true;
      store
        .heartbeat(id, leaseMs)
        .then((leases) => {
          if (!leases.some((l) => l.runId === runId)) onLost();
        })
        .catch(() => {
          // The fence on every write is what protects the run; a missed renewal is not.
        })
        .finally(() => {
          busy = false;
        });
    },
    Math.max(100, Math.floor(leaseMs / 3)),
  );
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await store.stopScheduler(id).catch(() => {});
    },
  };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (
  level: LogLevel,
  msg: string,
  fields?: Readonly<Record<string, unknown>>,
) => void;

/** What the scheduler reports as it works (metrics hang off these). */
export interface SchedulerHooks {
  onProgress?(run: Run, p: RunProgress): void;
  onHeartbeat?(ok: boolean): void;
  onClaimed?(runs: readonly Run[], adopted: number): void;
  onRunLost?(run: Run): void;
  onDatabaseError?(what: string, e: unknown): void;
}

export interface SchedulerOptions {
  readonly store: Store;
  readonly executor: Executor;
  /** Unique among the processes sharing the database. */
  readonly id: string;
  /** Root of the attempt directories (`.baton/runs`). */
  readonly runsDir: string;
  /** How long a claimed run stays ours without a renewal. Default 15 s. */
  readonly leaseMs?: number;
  /** How often leases are renewed. Default a third of the lease. */
  readonly heartbeatMs?: number;
  /** How often unowned runs are looked for. Default 1 s. */
  readonly pollMs?: number;
  /** Most runs driven at once. Default 32. */
  readonly maxRuns?: number;
  /** Most orphaned runs claimed per look (new runs: as many as idle slots). Default 16. */
  readonly claimBatch?: number;
  /** How often schedules and backfills are looked at for due runs. Default 1 s; 0: never. */
  readonly fireMs?: number;
  /** The clock schedules are fired by (tests move it). Default `Date.now`. */
  readonly now?: () => number;
  readonly log?: Log;
  readonly hooks?: SchedulerHooks;
}

interface Driven {
  readonly run: Run;
  readonly controller: RunController;
  /** When it was claimed (performance.now()): a heartbeat begun earlier cannot list it. */
  readonly claimedAt: number;
}

/** A scheduler process's work loop. `start()` once, `stop()` to let go cleanly. */
export class Scheduler {
  readonly id: string;
  readonly #o: Required<Omit<SchedulerOptions, 'hooks' | 'log' | 'now'>> & {
    readonly now: () => number;
    readonly hooks: SchedulerHooks;
    readonly log: Log;
  };
  readonly #driven = new Map<string, Driven>();
  /** Runs being set up (claimed, not yet driven): not claimed again meanwhile. */
  readonly #starting = new Set<string>();
  #pump: { done: Promise<void>; stop: () => void } | undefined;
  #timers: NodeJS.Timeout[] = [];
  #stopping = false;
  #heartbeating = false;
  #claiming = false;
  #firing = false;
  readonly #schedules: ScheduleCache = new Map();
  #lastHeartbeatOk = 0;

  constructor(options: SchedulerOptions) {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.id = options.id;
    this.#o = {
      store: options.store,
      executor: options.executor,
      id: options.id,
      runsDir: options.runsDir,
      leaseMs,
      heartbeatMs: options.heartbeatMs ?? Math.max(100, Math.floor(leaseMs / 3)),
      pollMs: options.pollMs ?? 1000,
      maxRuns: options.maxRuns ?? 32,
      claimBatch: options.claimBatch ?? 16,
      fireMs: options.fireMs ?? 1000,
      now: options.now ?? Date.now,
      hooks: options.hooks ?? {},
      log: options.log ?? (() => {}),
    };
  }

  /** Runs driven right now. */
  get runs(): readonly Run[] {
    return [...this.#driven.values()].map((d) => d.run);
  }

  /** Attempts handed to the executor and not finished, over all runs. */
  get inFlight(): number {
    let n = 0;
    for (const d of this.#driven.values()) n += d.controller.inFlight;
    return n;
  }

  async start(): Promise<void> {
    const { store, executor } = this.#o;
    await store.registerScheduler({
      id: this.id,
      kind: 'scheduler',
      host: hostname(),
      pid: process.pid,
    });
    this.#lastHeartbeatOk = Date.now();
    this.#pump = pumpEvents(executor, (ev) => this.#route(ev));
    this.#o.log('info', 'scheduler started', {
      scheduler: this.id,
      store: store.url,
      executor: executor.name,
      slots: executor.capacity().totalSlots,
      leaseMs: this.#o.leaseMs,
    });
    this.#every(this.#o.heartbeatMs, () => this.#heartbeat());
    this.#every(this.#o.pollMs, () => this.#claim());
    if (this.#o.fireMs > 0) {
      this.#every(this.#o.fireMs, () => this.#fire());
      await this.#fire();
    }
    await this.#claim();
  }

  /**
   * Stops claiming, lets go of every run (running attempts keep running: whoever claims
   * the runs next adopts them) and marks this scheduler stopped.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    for (const d of this.#driven.values()) d.controller.abandon('the scheduler is stopping');
    this.#pump?.stop();
    const { store } = this.#o;
    try {
      const released = await store.releaseRuns(this.id);
      await store.stopScheduler(this.id);
      this.#o.log('info', 'scheduler stopped', { scheduler: this.id, released });
    } catch (e) {
      this.#o.log('warn', 'could not release runs on stop; their leases will expire', {
        scheduler: this.id,
        error: (e as Error).message,
      });
    }
  }

  #every(ms: number, fn: () => Promise<void>): void {
    this.#timers.push(setInterval(() => void fn(), ms));
  }

  #route(ev: ExecutorEvent): void {
    for (const d of this.#driven.values()) if (d.controller.onExecutorEvent(ev)) return;
  }

  async #heartbeat(): Promise<void> {
    if (this.#heartbeating || this.#stopping) return;
    this.#heartbeating = true;
    const { store, executor } = this.#o;
    try {
      const capacity = executor.capacity();
      const begun = performance.now();
      const leases = await store.heartbeat(this.id, this.#o.leaseMs, {
        executor: executor.name,
        slots: capacity.totalSlots,
        running: this.inFlight,
        runs: this.#driven.size,
      });
      this.#lastHeartbeatOk = Date.now();
      this.#o.hooks.onHeartbeat?.(true);
      const held = new Set(leases.map((l) => l.runId));
      for (const [runId, d] of this.#driven) {
        if (held.has(runId) || d.claimedAt >= begun) continue;
        this.#o.log('warn', 'lost the lease of a run; another scheduler drives it now', {
          scheduler: this.id,
          run: runId,
        });
        this.#o.hooks.onRunLost?.(d.run);
        d.controller.abandon('its lease was taken by another scheduler');
      }
      // A claim whose commit was cut off may have succeeded: the heartbeat shows it ours.
      for (const lease of leases) {
        if (this.#driven.has(lease.runId) || this.#starting.has(lease.runId)) continue;
        const run = await store.getRun(lease.runId);
        if (run && run.owner === this.id && run.ownerEpoch === lease.epoch) void this.#drive(run);
      }
    } catch (e) {
      this.#o.hooks.onHeartbeat?.(false);
      this.#o.hooks.onDatabaseError?.('heartbeat', e);
      this.#o.log('error', 'heartbeat failed', {
        scheduler: this.id,
        error: (e as Error).message,
        sinceLastOkMs: Date.now() - this.#lastHeartbeatOk,
      });
    } finally {
      this.#heartbeating = false;
    }
  }

  /**
   * Creates the runs schedules and backfills have due, from stored flow versions only.
   * Every scheduler does it: the run key of an interval makes the second creation a no-op.
   */
  async #fire(): Promise<void> {
    if (this.#firing || this.#stopping) return;
    this.#firing = true;
    try {
      // One scheduler at a time counts a flow's active runs and creates the next ones, so
      // two cannot both see room for the last place under max_active_runs.
      const report = await this.#o.store.exclusive('fire schedules', () =>
        fireDueRuns(this.#o.store, this.#o.now(), { cache: this.#schedules }),
      );
      for (const run of report?.created ?? []) {
        this.#o.log('info', 'created a scheduled run', {
          scheduler: this.id,
          run: run.id,
          flow: run.flow,
          trigger: run.trigger,
          ...(run.intervalStart !== null
            ? { intervalStart: new Date(run.intervalStart).toISOString() }
            : {}),
        });
      }
      for (const e of report?.errors ?? []) {
        this.#o.log('error', 'could not create due runs', {
          scheduler: this.id,
          flow: e.flow,
          ...(e.backfillId !== undefined ? { backfill: e.backfillId } : {}),
          error: e.error.message,
        });
      }
      // Actions from the dashboard and the API: rows this scheduler applies; a cancel or a
      // task action on a run another scheduler drives is left for that one.
      for (const { command, outcome } of await applyPendingCommands(this.#o.store, {
        cancelLive: (runId) => {
          const d = this.#driven.get(runId);
          if (!d) return false;
          d.controller.cancel();
          return true;
        },
        taskActionLive: (runId, action) => {
          const d = this.#driven.get(runId);
          if (!d) return undefined;
          const result = d.controller.taskAction(action);
          if (result === undefined)
            return { state: 'left', message: `run ${runId} is starting or ending; later` };
          return result.ok
            ? { state: 'done', message: result.message, runId }
            : { state: 'rejected', message: result.message };
        },
      })) {
        if (outcome.state === 'left') continue;
        this.#o.log(outcome.state === 'done' ? 'info' : 'warn', `command ${outcome.state}`, {
          scheduler: this.id,
          command: command.id,
          kind: command.kind,
          flow: command.flow,
          ...(command.runId ? { run: command.runId } : {}),
          ...(outcome.message ? { message: outcome.message } : {}),
        });
      }
    } catch (e) {
      this.#o.hooks.onDatabaseError?.('fire schedules', e);
      this.#o.log('error', 'firing schedules failed', {
        scheduler: this.id,
        error: (e as Error).message,
      });
    } finally {
      this.#firing = false;
    }
  }

  /**
   * Looks for runs to take on. Orphans (runs whose owner died or let its lease run out)
   * are claimed whatever the load, so their attempts are adopted within a lease; new runs only while
   * this scheduler has idle slots, so that several schedulers share the work instead of
   * the first one up taking everything.
   */
  async #claim(): Promise<void> {
    if (this.#claiming || this.#stopping) return;
    const room = this.#o.maxRuns - this.#driven.size - this.#starting.size;
    if (room <= 0) return;
    this.#claiming = true;
    const { store, executor } = this.#o;
    try {
      const deadOwners = deadOnThisHost(await store.listSchedulers(), this.id);
      // Queued runs of a paused flow, or beyond its max_active_runs, stay queued: the claim
      // skips them (the dashboard and `baton show` tell why from the same rows).
      const request = { owner: this.id, leaseMs: this.#o.leaseMs, deadOwners, holds: true };
      const runs = await store.claimRuns({
        ...request,
        limit: Math.min(room, this.#o.claimBatch),
        which: 'orphaned',
      });
      // New runs: as many as there are idle slots (each starts with at least one task), so a
      // backfill of many small runs keeps the slots busy instead of waiting a poll per run.
      const idleSlots = executor.capacity().totalSlots - this.inFlight - this.#starting.size;
      const wanted = Math.min(room - runs.length, idleSlots);
      if (wanted > 0) {
        runs.push(...(await store.claimRuns({ ...request, limit: wanted, which: 'unowned' })));
      }
      if (runs.length === 0) return;
      const adopted = runs.filter((r) => r.state === 'running').length;
      this.#o.hooks.onClaimed?.(runs, adopted);
      for (const run of runs) {
        this.#o.log('info', run.state === 'running' ? 'adopting run' : 'claimed run', {
          scheduler: this.id,
          run: run.id,
          flow: run.flow,
          epoch: run.ownerEpoch,
        });
        void this.#drive(run);
      }
    } catch (e) {
      this.#o.hooks.onDatabaseError?.('claim', e);
      this.#o.log('error', 'claiming runs failed', {
        scheduler: this.id,
        error: (e as Error).message,
      });
    } finally {
      this.#claiming = false;
    }
  }

  async #drive(run: Run): Promise<void> {
    const { store, executor } = this.#o;
    const claimedAt = performance.now();
    this.#starting.add(run.id);
    let controller: RunController | undefined;
    try {
      const version = await store.getFlowVersion(run.flowVersionId);
      if (!version)
        throw new Error(`flow version ${run.flowVersionId} of run ${run.id} is missing`);
      controller = await prepareRun({
        store,
        executor,
        run,
        spec: version.spec,
        runsDir: this.#o.runsDir,
        source: { path: version.sourcePath, text: version.sourceText },
        fence: { runId: run.id, owner: this.id, epoch: run.ownerEpoch, leaseMs: this.#o.leaseMs },
        onProgress: (p) => this.#o.hooks.onProgress?.(run, p),
      });
      if (this.#stopping) return;
      this.#driven.set(run.id, { run, controller, claimedAt });
      this.#starting.delete(run.id);
      const state = await runToEnd(controller, { store, executor });
      this.#o.log('info', 'run finished', {
        scheduler: this.id,
        run: run.id,
        flow: run.flow,
        state,
      });
    } catch (e) {
      if (e instanceof LostOwnershipError) {
        if (!this.#stopping)
          this.#o.log('warn', 'stopped driving a run another scheduler claimed', {
            scheduler: this.id,
            run: run.id,
            reason: e.message,
          });
      } else {
        // Not ours to decide the run failed: let it go, and whoever claims it next (maybe
        // this scheduler, on a fresh start from its rows) carries on.
        this.#o.hooks.onDatabaseError?.('drive', e);
        this.#o.log('error', 'driving a run failed; releasing it', {
          scheduler: this.id,
          run: run.id,
          error: (e as Error).message,
        });
        controller?.abandon('it failed in this scheduler');
        await store.releaseRuns(this.id, [run.id]).catch(() => {});
      }
    } finally {
      this.#starting.delete(run.id);
      if (this.#driven.get(run.id)?.controller === controller) this.#driven.delete(run.id);
      // A run that ended freed its slots (and maybe a place under max_active_runs): create
      // and look for the next runs now, not at the next poll.
      if (!this.#stopping) {
        setImmediate(() => {
          void (this.#o.fireMs > 0 ? this.#fire() : Promise.resolve()).then(() => this.#claim());
        });
      }
    }
  }
}

/**
 * Processes registered from this host whose pid no longer exists: their leases need not
 * be waited out. Only this host's processes can be probed; others' leases must expire.
 */
export function deadOnThisHost(schedulers: readonly SchedulerInfo[], self: string): string[] {
  const host = hostname();
  const dead: string[] = [];
  for (const s of schedulers) {
    if (s.id === self || s.host !== host || s.stoppedAt !== null) continue;
    if (!processExists(s.pid)) dead.push(s.id);
  }
  return dead;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
