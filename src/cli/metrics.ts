/**
 * The scheduler's Prometheus metrics (prom-client), fed by the scheduler's hooks, and
 * the small HTTP server that exposes them at /metrics.
 */
import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Scheduler, SchedulerHooks } from '../scheduler/index.ts';

export interface SchedulerMetrics {
  readonly registry: Registry;
  readonly hooks: SchedulerHooks;
  /** Binds the gauges that are read on scrape (queued, running, runs) to a scheduler. */
  watch(scheduler: Scheduler): void;
}

export function schedulerMetrics(): SchedulerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'baton_process_' });
  const registers = [registry];
  const started = new Counter({
    name: 'baton_task_runs_started_total',
    help: 'Task attempts handed to the executor (queued → running).',
    registers,
  });
  const finished = new Counter({
    name: 'baton_task_runs_finished_total',
    help: 'Task attempts that ended, by final state.',
    labelNames: ['state'],
    registers,
  });
  const readyToRunning = new Histogram({
    name: 'baton_task_ready_to_running_seconds',
    help: 'Time from a task attempt being queued (ready) to it running.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
    registers,
  });
  const renewals = new Counter({
    name: 'baton_lease_renewals_total',
    help: 'Heartbeats that renewed this scheduler’s leases, by outcome.',
    labelNames: ['outcome'],
    registers,
  });
  const claims = new Counter({
    name: 'baton_runs_claimed_total',
    help: 'Runs this scheduler claimed; adopted = the run was already running elsewhere.',
    labelNames: ['kind'],
    registers,
  });
  const lost = new Counter({
    name: 'baton_runs_lost_total',
    help: 'Runs whose lease another scheduler took over from this one.',
    registers,
  });
  const dbErrors = new Counter({
    name: 'baton_database_errors_total',
    help: 'Database operations that failed after their retries, by operation.',
    labelNames: ['operation'],
    registers,
  });
  let scheduler: Scheduler | undefined;
  new Gauge({
    name: 'baton_task_runs_running',
    help: 'Task attempts handed to the executor and not finished.',
    registers,
    collect() {
      this.set(scheduler?.inFlight ?? 0);
    },
  });
  new Gauge({
    name: 'baton_runs_driven',
    help: 'Runs this scheduler holds the lease of and drives.',
    registers,
    collect() {
      this.set(scheduler?.runs.length ?? 0);
    },
  });
  const queued = new Gauge({
    name: 'baton_task_runs_queued',
    help: 'Task attempts ready and waiting for a slot.',
    registers,
  });
  const queuedAt = new Map<string, number>();
  const hooks: SchedulerHooks = {
    onProgress(run, p) {
      if (p.type !== 'task') return;
      const key = `${run.id}\u0000${p.taskId}\u0000${p.mapIndex}\u0000${p.attempt}`;
      if (p.state === 'queued') {
        queuedAt.set(key, performance.now());
        queued.inc();
      } else if (p.state === 'running') {
        started.inc();
        const at = queuedAt.get(key);
        if (at !== undefined) {
          queuedAt.delete(key);
          queued.dec();
          readyToRunning.observe((performance.now() - at) / 1000);
        }
      } else if (p.state !== 'pending') {
        if (queuedAt.delete(key)) queued.dec();
        finished.inc({ state: p.state });
      }
    },
    onHeartbeat(ok) {
      renewals.inc({ outcome: ok ? 'ok' : 'failed' });
    },
    onClaimed(runs, adopted) {
      claims.inc({ kind: 'new' }, runs.length - adopted);
      if (adopted > 0) claims.inc({ kind: 'adopted' }, adopted);
    },
    onRunLost() {
      lost.inc();
    },
    onDatabaseError(what) {
      dbErrors.inc({ operation: what });
    },
  };
  return {
    registry,
    hooks,
    watch(s) {
      scheduler = s;
    },
  };
}

/** Serves `registry` at http://127.0.0.1:PORT/metrics (PORT 0: any free port). */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      },
      (e: unknown) => {
        res.writeHead(500).end(String(e));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
