/**
 * The fake cluster's scheduler and kubelet in one: binds each new pod to the one node
 * `fake-node`, runs its (single) container's command as a real local process, and moves
 * the pod through the phases a real kubelet reports (pod-lifecycle docs; reason strings
 * from pkg/kubelet). Faults are scripted by rules (label selector → outcome) or applied
 * at once to a running pod.
 *
 * What a process gets instead of a container: its own process group, `cwd` = the
 * container's `workingDir` (created if missing, as runtimes do) or a sandbox folder, the
 * pod's env (plain `value`s only) on top of this process's PATH, and stdout+stderr in a
 * log file. There is no container filesystem, so the termination message path is mapped
 * into the sandbox: any env value equal to `terminationMessagePath` names the mapped file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PodStore } from './pod-store.ts';
import type { Matcher, Pod } from './selectors.ts';

/** Scripted outcomes (RELIABILITY.md §3.8). */
export type Outcome =
  | 'unschedulable'
  | 'image_pull'
  | 'config_error'
  | 'oom'
  | 'evict'
  | 'node_lost';

/** Outcomes decided before the container starts; the others strike a running one. */
const BEFORE_START = new Set<Outcome>(['unschedulable', 'image_pull', 'config_error']);

export interface Rule {
  readonly matches: Matcher;
  readonly outcome: Outcome;
  /** For outcomes that strike a running container: how long after its start. Default 0. */
  readonly afterMs: number;
}

interface Runtime {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly sandbox: string;
  readonly logPath: string;
  readonly terminationPath: string;
  proc: ChildProcess | null;
  startedAt: string | null;
  /** The container has terminated (or will never start); its status is final. */
  terminated: boolean;
  /** Set by a fault: the reason the container's end is reported with. */
  forced: Outcome | 'deadline' | null;
  deleting: boolean;
  timers: NodeJS.Timeout[];
}

/** Termination messages are cut to this many bytes per container (kubelet). */
const MESSAGE_LIMIT = 4096;
const SIGNALS: Record<string, number> = { SIGTERM: 15, SIGKILL: 9, SIGINT: 2, SIGHUP: 1 };

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export class Kubelet {
  readonly rules: Rule[] = [];
  readonly #store: PodStore;
  readonly #dir: string;
  readonly #runtimes = new Map<string, Runtime>();

  constructor(store: PodStore, dir: string) {
    this.#store = store;
    this.#dir = dir;
  }

  /** Called after a pod is stored: schedule, pull, start, asynchronously as a cluster would. */
  created(pod: Pod): void {
    const { namespace, name } = pod.metadata;
    const key = `${namespace}/${name}`;
    const sandbox = join(this.#dir, namespace, `${name}-${pod.metadata.uid}`);
    mkdirSync(sandbox, { recursive: true });
    const runtime: Runtime = {
      key,
      namespace,
      name,
      sandbox,
      logPath: join(sandbox, 'container.log'),
      terminationPath: join(sandbox, 'termination-log'),
      proc: null,
      startedAt: null,
      terminated: false,
      forced: null,
      deleting: false,
      timers: [],
    };
    this.#runtimes.set(key, runtime);
    setImmediate(() => this.#schedule(runtime));
  }

  /** The container log of a pod, with whether it started and whether more may come. */
  log(namespace: string, name: string): { path: string; started: boolean; ended: boolean } | null {
    const runtime = this.#runtimes.get(`${namespace}/${name}`);
    if (!runtime) return null;
    return {
      path: runtime.logPath,
      started: runtime.startedAt !== null,
      ended: runtime.terminated,
    };
  }

  /**
   * Deletes a pod as the API server and kubelet do together: grace 0 (or a pod that never
   * started, or has ended) → gone at once; else `deletionTimestamp`, SIGTERM, SIGKILL at
   * the deadline, a terminal status, then gone. Finalizers hold the object back.
   */
  delete(pod: Pod, graceSeconds: number | undefined): Pod {
    const runtime = this.#runtimes.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    const running = runtime?.proc !== null && runtime?.proc !== undefined && !runtime.terminated;
    const grace = running ? (graceSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) : 0;
    const held = (pod.metadata.finalizers ?? []).length > 0;
    if (grace === 0 && !held) {
      if (runtime) {
        runtime.deleting = true;
        this.#kill(runtime, 'SIGKILL');
        this.#forget(runtime);
      }
      return this.#store.commit('DELETED', pod);
    }
    if (runtime) runtime.deleting = true;
    const marked = pod.metadata.deletionTimestamp
      ? pod
      : this.#store.commit('MODIFIED', {
          ...pod,
          metadata: {
            ...pod.metadata,
            deletionTimestamp: new Date(Date.now() + grace * 1000)
              .toISOString()
              .replace(/\.\d+Z$/, 'Z'),
            deletionGracePeriodSeconds: grace,
          },
        });
    if (runtime && running) {
      this.#kill(runtime, grace === 0 ? 'SIGKILL' : 'SIGTERM');
      if (grace > 0)
        runtime.timers.push(setTimeout(() => this.#kill(runtime, 'SIGKILL'), grace * 1000));
    }
    return marked;
  }

  /** After a patch: a pod marked for deletion whose last finalizer went is removed. */
  patched(pod: Pod): void {
    if (!pod.metadata.deletionTimestamp || (pod.metadata.finalizers ?? []).length > 0) return;
    const runtime = this.#runtimes.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    if (runtime && !runtime.terminated) return; // removed when its container ends
    if (runtime) this.#forget(runtime);
    this.#store.commit('DELETED', pod);
  }

  /** Applies a fault to a pod now; false if the pod has no live container. */
  strike(namespace: string, name: string, outcome: Outcome): boolean {
    const runtime = this.#runtimes.get(`${namespace}/${name}`);
    if (!runtime?.proc || runtime.terminated) return false;
    runtime.forced = outcome;
    if (outcome === 'node_lost') {
      // The node is gone: nobody reports the container's end; PodGC removes the pod.
      this.#kill(runtime, 'SIGKILL');
      const pod = this.#store.get(namespace, name);
      this.#forget(runtime);
      if (pod) this.#store.commit('DELETED', pod);
      return true;
    }
    this.#kill(runtime, 'SIGKILL');
    return true;
  }

  /** Kills every container process (the fake is shutting down). */
  shutdown(): void {
    for (const runtime of this.#runtimes.values()) {
      this.#kill(runtime, 'SIGKILL');
      for (const timer of runtime.timers) clearTimeout(timer);
    }
    this.#runtimes.clear();
  }

  #rule(pod: Pod, when: 'before' | 'running'): Rule | undefined {
    return this.rules.find(
      (r) => BEFORE_START.has(r.outcome) === (when === 'before') && r.matches(pod),
    );
  }

  #update(runtime: Runtime, change: (pod: Pod) => void): void {
    const pod = this.#store.get(runtime.namespace, runtime.name);
    if (!pod) return;
    change(pod);
    this.#store.commit('MODIFIED', pod);
  }

  #schedule(runtime: Runtime): void {
    const pod = this.#store.get(runtime.namespace, runtime.name);
    if (!pod || runtime.deleting) return;
    const rule = this.#rule(pod, 'before');
    if (rule?.outcome === 'unschedulable') {
      this.#update(runtime, (p) => {
        p.status.conditions = [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/3 nodes are available: 3 Insufficient cpu.',
            lastTransitionTime: now(),
          },
        ];
      });
      return;
    }
    const container = pod.spec.containers[0];
    this.#update(runtime, (p) => {
      p.spec.nodeName = 'fake-node';
      p.status.hostIP = '10.0.0.1';
      p.status.podIP = '10.1.0.1';
      p.status.startTime = now();
      p.status.conditions = [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now() },
        { type: 'Initialized', status: 'True', lastTransitionTime: now() },
      ];
      p.status.containerStatuses = [waiting(container, 'ContainerCreating', undefined)];
    });
    if (rule?.outcome === 'image_pull') {
      const message = `Failed to pull image "${container.image}": not found`;
      this.#update(runtime, (p) => {
        p.status.containerStatuses = [waiting(container, 'ErrImagePull', message)];
      });
      runtime.timers.push(
        setTimeout(() => {
          this.#update(runtime, (p) => {
            p.status.containerStatuses = [
              waiting(container, 'ImagePullBackOff', `Back-off pulling image "${container.image}"`),
            ];
          });
        }, 50),
      );
      return;
    }
    if (rule?.outcome === 'config_error') {
      this.#update(runtime, (p) => {
        p.status.containerStatuses = [
          waiting(container, 'CreateContainerConfigError', 'secret "x" not found'),
        ];
      });
      return;
    }
    this.#start(runtime, pod);
  }

  #start(runtime: Runtime, pod: Pod): void {
    const container = pod.spec.containers[0];
    const argv: string[] = [...(container.command ?? []), ...(container.args ?? [])];
    const messagePath = container.terminationMessagePath ?? '/dev/termination-log';
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOSTNAME: pod.metadata.name,
      HOME: runtime.sandbox,
    };
    for (const e of container.env ?? [])
      env[e.name] = e.value === messagePath ? runtime.terminationPath : (e.value ?? '');
    const cwd = container.workingDir ?? runtime.sandbox;
    const startError = (message: string) => {
      runtime.terminated = true;
      this.#update(runtime, (p) => {
        p.status.phase = 'Failed';
        p.status.containerStatuses = [
          terminated(container, { exitCode: 128, reason: 'StartError', message }, now()),
        ];
      });
      this.#removeIfDeleting(runtime);
    };
    if (argv.length === 0) {
      startError('no command: the fake cannot run an image entrypoint');
      return;
    }
    mkdirSync(cwd, { recursive: true });
    const log = openSync(runtime.logPath, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(argv[0] as string, argv.slice(1), {
        cwd,
        env,
        detached: true,
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    runtime.proc = proc;
    proc.on('error', (error: NodeJS.ErrnoException) => {
      if (runtime.startedAt !== null) return;
      startError(
        error.code === 'ENOENT'
          ? `failed to create containerd task: exec: "${argv[0]}": executable file not found in $PATH`
          : `failed to start: ${error.message}`,
      );
    });
    proc.on('spawn', () => {
      runtime.startedAt = now();
      this.#update(runtime, (p) => {
        p.status.phase = 'Running';
        p.status.conditions = [
          ...(p.status.conditions ?? []),
          { type: 'Ready', status: 'True', lastTransitionTime: now() },
        ];
        p.status.containerStatuses = [
          {
            name: container.name,
            image: container.image,
            ready: true,
            restartCount: 0,
            started: true,
            state: { running: { startedAt: runtime.startedAt } },
          },
        ];
      });
      const rule = this.#rule(pod, 'running');
      if (rule)
        runtime.timers.push(
          setTimeout(
            () => this.strike(runtime.namespace, runtime.name, rule.outcome),
            rule.afterMs,
          ),
        );
      const deadline = pod.spec.activeDeadlineSeconds;
      if (typeof deadline === 'number')
        runtime.timers.push(
          setTimeout(() => {
            if (runtime.terminated) return;
            runtime.forced = 'deadline';
            this.#kill(runtime, 'SIGKILL');
          }, deadline * 1000),
        );
    });
    proc.on('exit', (code, signal) => this.#ended(runtime, container, code, signal));
  }

  #ended(runtime: Runtime, container: Pod, code: number | null, signal: string | null): void {
    if (runtime.terminated) return;
    runtime.terminated = true;
    for (const timer of runtime.timers) clearTimeout(timer);
    if (runtime.forced === 'node_lost') return;
    // Whatever the container left behind dies with it (the runtime kills the cgroup).
    this.#kill(runtime, 'SIGKILL');
    const exitCode = code ?? 128 + (SIGNALS[signal ?? ''] ?? 9);
    const forced = runtime.forced;
    const reason =
      forced === 'oom' ? 'OOMKilled' : exitCode === 0 && !forced ? 'Completed' : 'Error';
    const state: Record<string, unknown> = { exitCode, reason };
    const message = terminationMessage(runtime, container, exitCode);
    if (message) state.message = message;
    this.#update(runtime, (p) => {
      p.status.phase = exitCode === 0 && !forced ? 'Succeeded' : 'Failed';
      p.status.conditions = (p.status.conditions ?? []).map((c: Pod) =>
        c.type === 'Ready' ? { ...c, status: 'False', reason: 'PodCompleted' } : c,
      );
      if (forced === 'evict') {
        p.status.reason = 'Evicted';
        p.status.message = 'The node was low on resource: memory. ';
        p.status.conditions.push({
          type: 'DisruptionTarget',
          status: 'True',
          reason: 'TerminationByKubelet',
          lastTransitionTime: now(),
        });
      }
      if (forced === 'deadline') {
        p.status.reason = 'DeadlineExceeded';
        p.status.message = 'Pod was active on the node longer than the specified deadline';
      }
      p.status.containerStatuses = [terminated(container, state, runtime.startedAt ?? now())];
    });
    this.#removeIfDeleting(runtime);
  }

  #removeIfDeleting(runtime: Runtime): void {
    if (!runtime.deleting) return;
    const pod = this.#store.get(runtime.namespace, runtime.name);
    this.#forget(runtime);
    if (pod && (pod.metadata.finalizers ?? []).length === 0) this.#store.commit('DELETED', pod);
  }

  #forget(runtime: Runtime): void {
    for (const timer of runtime.timers) clearTimeout(timer);
    if (this.#runtimes.get(runtime.key) === runtime) this.#runtimes.delete(runtime.key);
    rmSync(runtime.sandbox, { recursive: true, force: true });
  }

  #kill(runtime: Runtime, signal: NodeJS.Signals): void {
    const pid = runtime.proc?.pid;
    if (!pid) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}

/** A container status that is not running (waiting or terminated). */
function notRunning(container: Pod, state: Record<string, unknown>): Pod {
  return {
    name: container.name,
    image: container.image,
    ready: false,
    restartCount: 0,
    started: false,
    state,
  };
}

function waiting(container: Pod, reason: string, message: string | undefined): Pod {
  return notRunning(container, {
    waiting: message === undefined ? { reason } : { reason, message },
  });
}

function terminated(container: Pod, state: Record<string, unknown>, startedAt: string): Pod {
  return notRunning(container, {
    terminated: {
      ...state,
      startedAt,
      finishedAt: now(),
      containerID: `containerd://${container.name}`,
    },
  });
}

/** The file's content (cut to 4 KiB); with FallbackToLogsOnError, else the log's tail. */
function terminationMessage(runtime: Runtime, container: Pod, exitCode: number): string {
  let text = '';
  try {
    text = readFileSync(runtime.terminationPath).subarray(0, MESSAGE_LIMIT).toString('utf8');
  } catch {
    // No file: no message.
  }
  if (
    text === '' &&
    exitCode !== 0 &&
    container.terminationMessagePolicy === 'FallbackToLogsOnError'
  ) {
    try {
      const size = statSync(runtime.logPath).size;
      const tail = readFileSync(runtime.logPath)
        .subarray(Math.max(0, size - 2048))
        .toString('utf8');
      text = tail.split('\n').slice(-80).join('\n');
    } catch {
      // No log either.
    }
  }
  return text;
}
