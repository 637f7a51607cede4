/**
 * The Kubernetes executor: one pod per attempt, followed through one list+watch per
 * namespace (pod-watch.ts), adopted by name after a restart, deleted once its result is
 * recorded. Nothing of Baton's stays in the cluster when no task runs.
 *
 * Guarantees, and how:
 * - Never two pods for one attempt: the pod name is the attempt's (pod-manifest.ts); a
 *   create retried after an ambiguous failure gets 409, reads the pod and adopts it when
 *   its labels name the same task run and attempt.
 * - Never a result lost: a finished pod is deleted only once the scheduler no longer has
 *   the attempt running (`ownerAlive`), i.e. after the result is committed; pods of task
 *   runs that are gone or ended are deleted by the same sweep.
 * - Never a pod silently forgotten: the watch is for latency; each list (at start, on
 *   410, every `resyncMs`) reconciles every attempt, and a pod missing from a list is
 *   confirmed gone with a GET before its attempt is reported lost.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig, Log, type V1Pod } from '@kubernetes/client-node';
import { EndedAttempts, type FinishResult } from '../ended-attempts.ts';
import { EventQueue } from '../event-queue.ts';
import type {
  Adopted,
  AdoptRequest,
  Capacity,
  Executor,
  ExecutorEvent,
  Fit,
  Handle,
  ResolvedTask,
} from '../executor.ts';
import { defaultLogCapBytes, truncationMarker } from '../local/log-cap.ts';
import {
  attemptOf,
  CONTAINER,
  instanceSelector,
  LABEL_OWNER,
  labelValue,
  ownerSelector,
  podManifest,
  podName,
} from './pod-manifest.ts';
import { podVerdict } from './pod-verdict.ts';
import { type ExecutorState, PodWatch } from './pod-watch.ts';

/** Options of `createKubernetesExecutor`. */
export interface KubernetesExecutorOptions {
  /** The cluster and credentials (see `loadKubeConfig`). */
  readonly kubeConfig: KubeConfig;
  /** Namespace of pods whose task names none. Default: the kubeconfig context's, else `default`. */
  readonly namespace?: string;
  /**
   * Short `[a-z0-9]` name of this Baton installation (e.g. a hash of the database URL),
   * part of every pod name and label selector: two installations sharing a namespace never
   * see each other's pods.
   */
  readonly instance: string;
  /** Most pods at once per namespace; launches beyond wait in order. Default 16. */
  readonly maxPods?: number;
  /** Where the watch's resource version is kept across restarts (the database). */
  readonly state?: ExecutorState;
  /**
   * Whether the task run still has this attempt queued or running (asked of the database).
   * Without it, finished pods are deleted at once and no pod is collected as an orphan.
   */
  readonly ownerAlive?: (taskRunId: number, attempt: number) => Promise<boolean>;
  /** Full list every this often, whatever the watch says. Default 30,000 ms. */
  readonly resyncMs?: number;
  /** A pod no node can take fails as `unschedulable` after this long. Default 10 min. */
  readonly unschedulableTimeoutMs?: number;
  /** An image that cannot be pulled, or a container that cannot be created, fails after this long. Default 60,000 ms. */
  readonly pendingFatalMs?: number;
  /** Grace between SIGTERM and SIGKILL when a pod is cancelled. Default 30,000 ms. */
  readonly killGraceMs?: number;
  /** Log size cap per attempt. Default 64 MiB. */
  readonly logCapBytes?: number;
  /** Told of every API failure the executor recovers from. */
  readonly onTrouble?: (what: string, error: unknown) => void;
  /**
   * A name for this process among those sharing the installation (a label value, unique
   * per process). Its pods carry it (`baton/owner`), its watch selects only them, and
   * adopting a pod moves the label under a resource-version precondition: of two
   * processes adopting one pod, one wins and the other follows it passively (RELIABILITY
   * F14). Without it pods carry no owner and the watch selects the whole installation.
   */
  readonly owner?: string;
}

type AttemptState = 'queued' | 'creating' | 'live' | 'ending';

interface Attempt {
  readonly task: ResolvedTask;
  readonly namespace: string;
  readonly pod: string;
  readonly token: string;
  state: AttemptState;
  uid: string | null;
  handle: Handle | null;
  cancelReason: 'timeout' | 'cancelled' | null;
  /** When the pod was first seen held back by the problem it has now (image, node…). */
  problemSince: number | null;
  lastPod: V1Pod | null;
  logs: LogCopy | null;
  /**
   * Another process owns the pod (it adopted it): this one copies no log, deletes
   * nothing on cancel, and learns the pod's end from lists; it still reports the end, so
   * a run is never stuck on it, and the run's fence decides whose record counts.
   */
  passive: boolean;
  /** A GET is asking whether another process took the pod over. */
  checkingOwner: boolean;
}

type Result = FinishResult;

// Transient API answers: retried (with the same pod name, so a retried create is safe).
const TRANSIENT = new Set([429, 500, 502, 503, 504]);
const API_TRIES = 6;

/** Creates the Kubernetes executor. Nothing is contacted until the first launch or adopt. */
export function createKubernetesExecutor(options: KubernetesExecutorOptions): Executor {
  if (!/^[a-z0-9]{1,12}$/.test(options.instance))
    throw new Error(
      `kubernetes executor: instance must be 1–12 of [a-z0-9], got "${options.instance}"`,
    );
  if (options.owner !== undefined && labelValue(options.owner) !== options.owner)
    throw new Error(`kubernetes executor: owner must be a label value, got "${options.owner}"`);
  return new KubernetesExecutor(options);
}

class KubernetesExecutor implements Executor {
  readonly name = 'kubernetes';
  readonly #o: KubernetesExecutorOptions;
  readonly #api: CoreV1Api;
  readonly #log: Log;
  readonly #namespace: string;
  readonly #maxPods: number;
  readonly #logCapBytes: number;
  readonly #events = new EventQueue<ExecutorEvent>();
  readonly #attempts = new Map<number, Attempt>();
  readonly #byPod = new Map<string, Attempt>();
  /** Attempts that ended here: launched again, they are reported again, not run twice. */
  readonly #ended = new EndedAttempts();
  /** Pods per namespace that hold a slot (being created, running, or ending). */
  readonly #live = new Map<string, number>();
  #queue: Attempt[] = [];
  readonly #watches = new Map<string, PodWatch>();
  /** Pods being deleted by the sweep, so one pod is not deleted twice at once. */
  readonly #collecting = new Set<string>();
  /** Finished pods waiting for their result to be committed before they are deleted. */
  readonly #finishedPods = new Map<
    string,
    { namespace: string; pod: string; taskRunId: number; attempt: number }
  >();
  #ticker: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: KubernetesExecutorOptions) {
    this.#o = options;
    this.#api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#log = new Log(options.kubeConfig);
    const context = options.kubeConfig.getContextObject(options.kubeConfig.getCurrentContext());
    this.#namespace = options.namespace ?? context?.namespace ?? 'default';
    this.#maxPods = Math.max(1, options.maxPods ?? 16);
    this.#logCapBytes = options.logCapBytes ?? defaultLogCapBytes;
  }

  async launch(task: ResolvedTask): Promise<void> {
    if (this.#closed) throw new Error('the executor is closed');
    const { taskRunId } = task;
    if (this.#attempts.has(taskRunId)) return;
    if (this.#ended.replay(taskRunId, this.#events)) return;
    const attempt = this.#track(task);
    if (!task.image) {
      this.#finish(attempt, {
        reason: 'launch_error',
        exitCode: null,
        message: `task "${task.taskId}" has no image: the kubernetes executor runs every task in a container (set image: on the task or in defaults)`,
      });
      return;
    }
    this.#watchNamespace(attempt.namespace);
    this.#queue.push(attempt);
    this.#pump();
  }

  async cancel(taskRunId: number, reason: 'timeout' | 'cancelled'): Promise<void> {
    const attempt = this.#attempts.get(taskRunId);
    // Passive: the pod's owner runs the same timeouts and is the one to stop it.
    if (!attempt || attempt.cancelReason || attempt.passive) return;
    attempt.cancelReason = reason;
    if (attempt.state === 'queued') {
      this.#finish(attempt, {
        reason,
        exitCode: null,
        message: `${reason === 'timeout' ? 'timed out' : 'cancelled'} before its pod was created`,
      });
    } else if (attempt.state === 'live') {
      await this.#deletePod(attempt, Math.ceil((this.#o.killGraceMs ?? 30_000) / 1000));
    }
    // 'creating': the pod is deleted as soon as its create returns.
  }

  async adopt(requests: readonly AdoptRequest[]): Promise<Adopted[]> {
    if (this.#closed) throw new Error('the executor is closed');
    return Promise.all(requests.map((request) => this.#adoptOne(request)));
  }

  events(): AsyncIterable<ExecutorEvent> {
    return this.#events;
  }

  capacity(): Capacity {
    const queued = this.#queue.filter((a) => a.namespace === this.#namespace).length;
    return {
      freeSlots: Math.max(0, this.#maxPods - (this.#live.get(this.#namespace) ?? 0) - queued),
      totalSlots: this.#maxPods,
    };
  }

  /** Always fits: the cluster's scheduler places pods (an unplaceable one is `unschedulable`). */
  fits(): Fit {
    return { fits: 'now' };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Results are committed before a caller closes (as `baton run` does): the last
    // finished pods go now rather than at the next process's sweep.
    await Promise.all(
      [...this.#finishedPods.values()].map(async (entry) => {
        try {
          if (!(await this.#o.ownerAlive?.(entry.taskRunId, entry.attempt)))
            await this.#deleteByName(entry.namespace, entry.pod, 0);
        } catch (error) {
          this.#o.onTrouble?.(`cleanup ${entry.pod}`, error);
        }
      }),
    );
    this.#finishedPods.clear();
    this.#closed = true;
    if (this.#ticker) clearInterval(this.#ticker);
    for (const attempt of this.#attempts.values()) attempt.logs?.stop();
    await Promise.all([...this.#watches.values()].map((w) => w.stop()));
    this.#events.close();
  }

  /** Relists every watched namespace now (tests; the watch does this every `resyncMs`). */
  async resync(): Promise<void> {
    await Promise.all([...this.#watches.values()].map((w) => w.resync()));
  }

  // ---- attempts ----

  #track(task: ResolvedTask): Attempt {
    const namespace = task.kubernetes?.namespace ?? this.#namespace;
    const pod = podName(this.#o.instance, task.taskRunId, task.attempt);
    const attempt: Attempt = {
      task,
      namespace,
      pod,
      token: `${task.taskRunId}.${task.attempt}.${this.#o.instance}`,
      state: 'queued',
      uid: null,
      handle: null,
      cancelReason: null,
      problemSince: null,
      lastPod: null,
      logs: null,
      passive: false,
      checkingOwner: false,
    };
    this.#attempts.set(task.taskRunId, attempt);
    this.#byPod.set(`${namespace}/${pod}`, attempt);
    return attempt;
  }

  #pump(): void {
    const waiting: Attempt[] = [];
    for (const attempt of this.#queue) {
      if (attempt.state !== 'queued') continue;
      const live = this.#live.get(attempt.namespace) ?? 0;
      if (live >= this.#maxPods || this.#closed) {
        waiting.push(attempt);
        continue;
      }
      this.#live.set(attempt.namespace, live + 1);
      attempt.state = 'creating';
      void this.#create(attempt);
    }
    this.#queue = waiting;
  }

  async #create(attempt: Attempt): Promise<void> {
    const { task, namespace, pod } = attempt;
    const body = podManifest(task, this.#o.instance, namespace, attempt.token, this.#o.owner);
    let created: V1Pod | null = null;
    for (let tries = 1; created === null; tries++) {
      try {
        created = await this.#api.createNamespacedPod({ namespace, body });
      } catch (error) {
        const code = codeOf(error);
        if (code === 409) {
          // Created earlier (a retry after an ambiguous answer, or a process that died
          // before recording it): the same attempt's pod is adopted, anything else refused.
          const existing = await this.#read(namespace, pod).catch(() => null);
          const owner = existing ? attemptOf(existing, this.#o.instance) : null;
          if (existing && owner?.taskRunId === task.taskRunId && owner.attempt === task.attempt) {
            created = existing;
            break;
          }
          this.#finish(attempt, {
            reason: 'launch_error',
            exitCode: null,
            message: `pod ${namespace}/${pod} already exists and belongs to another attempt; delete it`,
          });
          return;
        }
        if (isTransient(code) && tries < API_TRIES && !this.#closed) {
          await sleep(retryDelayMs(error, tries));
          continue;
        }
        this.#finish(attempt, {
          reason: 'launch_error',
          exitCode: null,
          message: `cannot create pod ${namespace}/${pod}: ${describeApiError(error)}`,
        });
        return;
      }
    }
    attempt.uid = created.metadata?.uid ?? null;
    attempt.state = 'live';
    // The log exists from the start, as with local tasks: `baton logs -f` can open it.
    try {
      closeSync(openSync(task.logPath, 'a'));
    } catch (error) {
      this.#o.onTrouble?.(`create log of ${pod}`, error);
    }
    attempt.handle = { namespace, pod, uid: attempt.uid, token: attempt.token };
    this.#events.push({
      type: 'started',
      taskRunId: task.taskRunId,
      handle: attempt.handle,
      at: Date.now(),
    });
    if (attempt.cancelReason) {
      await this.#deletePod(attempt, Math.ceil((this.#o.killGraceMs ?? 30_000) / 1000));
      return;
    }
    this.#observe(attempt, attempt.lastPod ?? created);
  }

  async #adoptOne(request: AdoptRequest): Promise<Adopted> {
    const { taskRunId, task, handle } = request;
    if (this.#attempts.has(taskRunId)) return { taskRunId, status: 'running' };
    const attempt = this.#track(task);
    this.#watchNamespace(attempt.namespace);
    let pod: V1Pod | null;
    try {
      pod = await this.#read(attempt.namespace, attempt.pod);
    } catch (error) {
      // The API cannot answer now: the attempt is followed as running, and the next list
      // or a GET settles it. Declaring it lost could start a second copy.
      this.#o.onTrouble?.(`adopt ${attempt.pod}`, error);
      attempt.state = 'live';
      this.#live.set(attempt.namespace, (this.#live.get(attempt.namespace) ?? 0) + 1);
      return { taskRunId, status: 'running' };
    }
    const owner = pod ? attemptOf(pod, this.#o.instance) : null;
    if (!pod || owner?.taskRunId !== taskRunId || owner.attempt !== task.attempt) {
      this.#forget(attempt);
      if (!pod && !handle) return { taskRunId, status: 'not_started' };
      return {
        taskRunId,
        status: 'lost',
        message: pod
          ? `pod ${attempt.namespace}/${attempt.pod} belongs to another attempt`
          : `pod ${attempt.namespace}/${attempt.pod} no longer exists (deleted while no scheduler watched)`,
      };
    }
    attempt.uid = pod.metadata?.uid ?? null;
    const claimed = await this.#claim(attempt, pod);
    if (claimed === null) {
      this.#forget(attempt);
      return {
        taskRunId,
        status: 'lost',
        message: `pod ${attempt.namespace}/${attempt.pod} no longer exists (deleted while no scheduler watched)`,
      };
    }
    pod = claimed;
    attempt.state = 'live';
    attempt.handle = {
      namespace: attempt.namespace,
      pod: attempt.pod,
      uid: attempt.uid,
      token: attempt.token,
    };
    this.#live.set(attempt.namespace, (this.#live.get(attempt.namespace) ?? 0) + 1);
    // After adopt() has answered: a pod that finished meanwhile reports through events().
    setImmediate(() => this.#observe(attempt, attempt.lastPod ?? pod));
    return { taskRunId, status: 'running' };
  }

  /**
   * Makes this process the owner of an adopted pod: the owner label moves only if the pod
   * is still at the version read (else 409 Conflict). Another owner's label appearing
   * meanwhile means another process adopted it first: this one backs off (passive). A
   * pod changed otherwise (its status moved on) is read again and claimed again. Returns
   * the latest pod, or null when it is gone.
   */
  async #claim(attempt: Attempt, read: V1Pod): Promise<V1Pod | null> {
    const me = this.#o.owner;
    if (me === undefined) return read;
    let pod = read;
    const seen = pod.metadata?.labels?.[LABEL_OWNER];
    for (let tries = 1; pod.metadata?.labels?.[LABEL_OWNER] !== me; tries++) {
      if (pod.metadata?.labels?.[LABEL_OWNER] !== seen) {
        attempt.passive = true;
        return pod;
      }
      try {
        return await this.#api.patchNamespacedPod({
          name: attempt.pod,
          namespace: attempt.namespace,
          // The version in the patched object is the precondition (409 if it moved on).
          body: [
            {
              op: 'replace',
              path: '/metadata/resourceVersion',
              value: pod.metadata?.resourceVersion,
            },
            { op: 'add', path: `/metadata/labels/${LABEL_OWNER.replace('/', '~1')}`, value: me },
          ],
        });
      } catch (error) {
        const code = codeOf(error);
        if (code === 404) return null;
        if ((code !== 409 && !isTransient(code)) || tries >= API_TRIES || this.#closed) {
          // Not ours for sure, not theirs for sure: follow without side effects.
          this.#o.onTrouble?.(`adopt ${attempt.pod}`, error);
          attempt.passive = true;
          return pod;
        }
        if (code !== 409) await sleep(retryDelayMs(error, tries));
        const again = await this.#read(attempt.namespace, attempt.pod);
        if (again === null) return null;
        pod = again;
      }
    }
    return pod;
  }

  #ownedByAnother(pod: V1Pod): boolean {
    const owner = pod.metadata?.labels?.[LABEL_OWNER];
    return this.#o.owner !== undefined && owner !== undefined && owner !== this.#o.owner;
  }

  /**
   * A pod seen with another owner's label: another process adopted it, or the sighting is
   * older than this process's own claim (a list answered before it). A GET tells; if
   * another process owns it, this one stops copying its log and backs off.
   */
  async #confirmTakeover(attempt: Attempt): Promise<void> {
    if (attempt.checkingOwner) return;
    attempt.checkingOwner = true;
    try {
      const pod = await this.#read(attempt.namespace, attempt.pod);
      if (pod && pod.metadata?.uid === attempt.uid && this.#ownedByAnother(pod)) {
        attempt.passive = true;
        attempt.logs?.stop();
        attempt.logs = null;
      }
    } catch (error) {
      this.#o.onTrouble?.(`get ${attempt.pod}`, error);
    } finally {
      attempt.checkingOwner = false;
    }
  }

  /** Acts on the latest state of an attempt's pod. */
  #observe(attempt: Attempt, pod: V1Pod): void {
    attempt.lastPod = pod;
    if (attempt.state !== 'live') return;
    if (!attempt.passive && this.#ownedByAnother(pod)) void this.#confirmTakeover(attempt);
    const verdict = podVerdict(pod);
    if (verdict.kind === 'running') {
      attempt.problemSince = null;
      if (!attempt.passive) this.#copyLogs(attempt);
      return;
    }
    if (verdict.kind === 'waiting') {
      if (!verdict.problem) {
        attempt.problemSince = null;
        return;
      }
      attempt.problemSince ??= Date.now();
      const limitMs =
        verdict.problem.reason === 'unschedulable'
          ? (this.#o.unschedulableTimeoutMs ?? 600_000)
          : (this.#o.pendingFatalMs ?? 60_000);
      if (Date.now() - attempt.problemSince >= limitMs) {
        const waited = Math.round((Date.now() - attempt.problemSince) / 1000);
        void this.#end(
          attempt,
          {
            reason: attempt.cancelReason ?? verdict.problem.reason,
            exitCode: null,
            message: `${verdict.problem.message} (for ${waited} s)`,
          },
          '',
          pod,
        );
      } else this.#startTicker();
      return;
    }
    const result: Result = { reason: verdict.reason, exitCode: verdict.exitCode };
    if (verdict.message) result.message = verdict.message;
    if (
      pod.metadata?.deletionTimestamp &&
      !attempt.cancelReason &&
      verdict.reason === 'exit_code'
    ) {
      // Killed because someone deleted its pod: not the task's own failure.
      result.reason = 'lost';
      result.message = `pod ${attempt.namespace}/${attempt.pod} was deleted from outside Baton while it ran (exit code ${verdict.exitCode})`;
    }
    if (attempt.cancelReason) {
      // Killed on our request: a container's exit code 128+n means signal n.
      result.reason = attempt.cancelReason;
      result.exitCode = null;
      result.message = attempt.cancelReason === 'timeout' ? 'timed out' : 'cancelled';
      const code = verdict.exitCode;
      if (code === 137) result.signal = 'SIGKILL';
      if (code === 143) result.signal = 'SIGTERM';
    }
    void this.#end(attempt, result, verdict.output, pod);
  }

  /** The pod vanished (DELETED event, or a GET that found nothing). */
  #gone(attempt: Attempt, last: V1Pod | null): void {
    if (attempt.state !== 'live') return;
    const verdict = last ? podVerdict(last) : null;
    if (verdict?.kind === 'ended') {
      // Deleted after it ended (PodGC, a person): its status still carries the result.
      this.#observe(attempt, last as V1Pod);
      return;
    }
    if (attempt.cancelReason) {
      void this.#end(
        attempt,
        {
          reason: attempt.cancelReason,
          exitCode: null,
          message: attempt.cancelReason === 'timeout' ? 'timed out' : 'cancelled',
        },
        '',
        null,
      );
      return;
    }
    void this.#end(
      attempt,
      {
        reason: 'lost',
        exitCode: null,
        message: `pod ${attempt.namespace}/${attempt.pod} disappeared before it finished (its node was lost, or it was deleted from outside Baton)`,
      },
      '',
      null,
    );
  }

  /** Stores the logs and the output, then reports the end; the pod is deleted after. */
  async #end(attempt: Attempt, result: Result, output: string, pod: V1Pod | null): Promise<void> {
    if (attempt.state !== 'live') return;
    attempt.state = 'ending';
    attempt.logs?.stop();
    const started =
      pod?.status?.containerStatuses?.[0]?.state?.terminated !== undefined || attempt.logs !== null;
    if (pod && started && !attempt.passive) await this.#storeLogs(attempt);
    if (output !== '') {
      try {
        writeFileSync(attempt.task.outputPath, output);
      } catch (error) {
        this.#o.onTrouble?.(`write output of ${attempt.pod}`, error);
      }
    }
    this.#finish(attempt, result);
    if (!pod) return;
    // A pod that never got to run holds nothing worth keeping: it goes now, or it might
    // still start. One that ran waits for its result to be committed.
    if (podVerdict(pod).kind === 'ended') this.#afterCommit(attempt);
    else void this.#deleteByName(attempt.namespace, attempt.pod, 0);
  }

  #finish(attempt: Attempt, result: Result): void {
    const { taskRunId } = attempt.task;
    if (this.#attempts.get(taskRunId) !== attempt) return;
    if (attempt.state !== 'queued')
      this.#live.set(attempt.namespace, (this.#live.get(attempt.namespace) ?? 1) - 1);
    this.#forget(attempt);
    this.#ended.record(taskRunId, attempt.handle, result);
    this.#events.push({ type: 'finished', taskRunId, ...result, at: Date.now() });
    this.#pump();
  }

  #forget(attempt: Attempt): void {
    this.#attempts.delete(attempt.task.taskRunId);
    this.#byPod.delete(`${attempt.namespace}/${attempt.pod}`);
  }

  /**
   * Deletes an ended attempt's pod once the scheduler has committed its result (the task
   * run no longer has this attempt running); until then a crash leaves the pod, and the
   * next process reads the result from it again.
   */
  #afterCommit(attempt: Attempt): void {
    const entry = {
      namespace: attempt.namespace,
      pod: attempt.pod,
      taskRunId: attempt.task.taskRunId,
      attempt: attempt.task.attempt,
    };
    if (!this.#o.ownerAlive) {
      void this.#deleteByName(entry.namespace, entry.pod, 0);
      return;
    }
    this.#finishedPods.set(`${entry.namespace}/${entry.pod}`, entry);
    this.#startTicker();
  }

  // ---- watch and lists ----

  #watchNamespace(namespace: string): void {
    if (this.#watches.has(namespace) || this.#closed) return;
    const watch = new PodWatch({
      kubeConfig: this.#o.kubeConfig,
      api: this.#api,
      namespace,
      labelSelector: instanceSelector(this.#o.instance),
      ...(this.#o.owner !== undefined
        ? { watchSelector: ownerSelector(this.#o.instance, this.#o.owner) }
        : {}),
      ...(this.#o.state ? { state: this.#o.state } : {}),
      stateKey: `kubernetes/${this.#o.instance}/${namespace}/resourceVersion`,
      resyncMs: this.#o.resyncMs ?? 30_000,
      onEvent: (type, pod) => this.#onEvent(namespace, type, pod),
      onList: (pods) => this.#onList(namespace, pods),
      ...(this.#o.onTrouble ? { onTrouble: this.#o.onTrouble } : {}),
    });
    this.#watches.set(namespace, watch);
    watch.start();
    // One list at start even when the watch resumes from a stored version: orphans are
    // only found in a list.
    void watch.resync();
  }

  #onEvent(namespace: string, type: string, pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    const attempt = this.#byPod.get(`${namespace}/${name}`);
    if (!attempt) {
      if (type !== 'DELETED') void this.#collect(namespace, pod);
      return;
    }
    if (attempt.uid && pod.metadata?.uid && pod.metadata.uid !== attempt.uid) return;
    if (type === 'DELETED') {
      if (!pod.metadata?.deletionTimestamp) {
        // Left the selector without being deleted (its labels changed): not a death.
        // Only a GET can tell.
        void this.#confirmGone(attempt);
        return;
      }
      this.#gone(attempt, pod);
      return;
    }
    this.#observe(attempt, pod);
  }

  #onList(namespace: string, pods: readonly V1Pod[]): void {
    const seen = new Set<string>();
    for (const pod of pods) {
      const name = pod.metadata?.name ?? '';
      seen.add(name);
      const attempt = this.#byPod.get(`${namespace}/${name}`);
      if (attempt && (!attempt.uid || attempt.uid === pod.metadata?.uid))
        this.#observe(attempt, pod);
      else if (!attempt) void this.#collect(namespace, pod);
    }
    for (const attempt of [...this.#attempts.values()])
      if (attempt.namespace === namespace && attempt.state === 'live' && !seen.has(attempt.pod))
        void this.#confirmGone(attempt);
  }

  /** A pod missing from a list or event stream: gone only if a GET agrees. */
  async #confirmGone(attempt: Attempt): Promise<void> {
    try {
      const pod = await this.#read(attempt.namespace, attempt.pod);
      if (pod === null) this.#gone(attempt, attempt.lastPod);
      else if (pod.metadata?.uid === attempt.uid || !attempt.uid) this.#observe(attempt, pod);
    } catch (error) {
      this.#o.onTrouble?.(`get ${attempt.pod}`, error);
    }
  }

  /** Deletes a Baton pod this process does not follow if its task run no longer wants it. */
  async #collect(namespace: string, pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    const owner = attemptOf(pod, this.#o.instance);
    if (!owner || !this.#o.ownerAlive || this.#collecting.has(key) || this.#closed) return;
    if (pod.metadata?.deletionTimestamp) return;
    this.#collecting.add(key);
    try {
      if (await this.#o.ownerAlive(owner.taskRunId, owner.attempt)) return;
      // The attempt may have been launched or adopted while we asked.
      if (this.#byPod.has(key)) return;
      const ended = podVerdict(pod).kind === 'ended';
      await this.#deleteByName(namespace, name, ended ? 0 : undefined);
    } catch (error) {
      this.#o.onTrouble?.(`collect ${name}`, error);
    } finally {
      this.#collecting.delete(key);
    }
  }

  // ---- timers ----

  #startTicker(): void {
    if (this.#ticker || this.#closed) return;
    const everyMs = Math.max(
      20,
      Math.min(
        1000,
        (this.#o.pendingFatalMs ?? 60_000) / 4,
        (this.#o.unschedulableTimeoutMs ?? 600_000) / 4,
      ),
    );
    this.#ticker = setInterval(() => this.#tick(), everyMs);
  }

  #tick(): void {
    let busy = false;
    for (const attempt of [...this.#attempts.values()]) {
      if (attempt.problemSince !== null && attempt.lastPod && attempt.state === 'live') {
        busy = true;
        this.#observe(attempt, attempt.lastPod);
      }
    }
    for (const [key, entry] of this.#finishedPods) {
      busy = true;
      if (this.#collecting.has(key)) continue;
      this.#collecting.add(key);
      void (this.#o.ownerAlive as NonNullable<KubernetesExecutorOptions['ownerAlive']>)(
        entry.taskRunId,
        entry.attempt,
      )
        .then(async (alive) => {
          if (alive) return;
          this.#finishedPods.delete(key);
          await this.#deleteByName(entry.namespace, entry.pod, 0);
        })
        .catch((error) => this.#o.onTrouble?.(`cleanup ${entry.pod}`, error))
        .finally(() => this.#collecting.delete(key));
    }
    if (!busy && this.#ticker) {
      clearInterval(this.#ticker);
      this.#ticker = null;
    }
  }

  // ---- API calls ----

  /** GET with retries on transient failures; null when the pod does not exist. */
  async #read(namespace: string, name: string): Promise<V1Pod | null> {
    for (let tries = 1; ; tries++) {
      try {
        return await this.#api.readNamespacedPod({ name, namespace });
      } catch (error) {
        const code = codeOf(error);
        if (code === 404) return null;
        if (!isTransient(code) || tries >= API_TRIES || this.#closed) throw error;
        await sleep(retryDelayMs(error, tries));
      }
    }
  }

  async #deletePod(attempt: Attempt, graceSeconds: number): Promise<void> {
    const found = await this.#deleteByName(attempt.namespace, attempt.pod, graceSeconds);
    if (!found) this.#gone(attempt, null);
  }

  /** DELETE with retries; false if the pod was already gone. */
  async #deleteByName(
    namespace: string,
    name: string,
    graceSeconds: number | undefined,
  ): Promise<boolean> {
    for (let tries = 1; ; tries++) {
      try {
        await this.#api.deleteNamespacedPod({
          name,
          namespace,
          ...(graceSeconds !== undefined ? { gracePeriodSeconds: graceSeconds } : {}),
        });
        return true;
      } catch (error) {
        const code = codeOf(error);
        if (code === 404) return false;
        if (!isTransient(code) || tries >= API_TRIES || this.#closed) {
          this.#o.onTrouble?.(`delete ${name}`, error);
          return true;
        }
        await sleep(retryDelayMs(error, tries));
      }
    }
  }

  /** Streams the running container's log into the attempt's log file (live tail). */
  #copyLogs(attempt: Attempt): void {
    if (attempt.logs) return;
    const copy = new LogCopy(attempt.task.logPath, this.#logCapBytes);
    attempt.logs = copy;
    this.#log
      .log(attempt.namespace, attempt.pod, CONTAINER, copy.sink, { follow: true })
      .then((controller) => copy.attach(controller))
      .catch((error) => this.#o.onTrouble?.(`follow log of ${attempt.pod}`, error));
  }

  /**
   * The whole log, read once the container has ended, replaces what the live copy wrote:
   * complete even when the stream broke or another process copied the first part.
   */
  async #storeLogs(attempt: Attempt): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        const text = await this.#api.readNamespacedPodLog({
          name: attempt.pod,
          namespace: attempt.namespace,
          container: CONTAINER,
          limitBytes: this.#logCapBytes + 1,
        });
        const bytes = Buffer.from(text ?? '', 'utf8');
        writeFileSync(
          attempt.task.logPath,
          bytes.length > this.#logCapBytes
            ? Buffer.concat([
                bytes.subarray(0, this.#logCapBytes),
                Buffer.from(truncationMarker(this.#logCapBytes)),
              ])
            : bytes,
        );
        return;
      } catch (error) {
        const code = codeOf(error);
        if (!isTransient(code) || tries >= 3) {
          // The live copy stays: the best there is.
          if (code !== 404 && code !== 400)
            this.#o.onTrouble?.(`read log of ${attempt.pod}`, error);
          return;
        }
        await sleep(retryDelayMs(error, tries));
      }
    }
  }
}

/** A live log copy: bytes go straight to the file, up to the cap. */
class LogCopy {
  readonly sink: Writable;
  #fd: number | null;
  #bytes = 0;
  #controller: AbortController | null = null;
  #stopped = false;

  constructor(path: string, capBytes: number) {
    this.#fd = openSync(path, 'w');
    this.sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.#fd !== null && this.#bytes < capBytes) {
          const part = chunk.subarray(0, capBytes - this.#bytes);
          writeSync(this.#fd, part);
          this.#bytes += part.length;
          if (this.#bytes >= capBytes) {
            writeSync(this.#fd, truncationMarker(capBytes));
            this.stop();
          }
        }
        callback();
      },
    });
    this.sink.on('error', () => {});
    // The client pipes the response into the sink and leaves the response's own errors
    // unhandled; aborting the request (stop) makes it emit one, which must not crash us.
    this.sink.on('pipe', (source: NodeJS.ReadableStream) => source.on('error', () => {}));
  }

  attach(controller: AbortController): void {
    this.#controller = controller;
    if (this.#stopped) controller.abort();
  }

  stop(): void {
    this.#stopped = true;
    this.#controller?.abort();
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}

function codeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Network failures (no HTTP status) and overload answers are worth another try. */
function isTransient(code: number | undefined): boolean {
  return code === undefined || TRANSIENT.has(code);
}

function retryDelayMs(error: unknown, tries: number): number {
  const header = (error as { headers?: Record<string, string> } | null)?.headers?.['retry-after'];
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds > 0) return Math.min(seconds * 1000, 10_000);
  return Math.min(100 * 2 ** tries, 5000);
}

/** The Status message of an API error, else the error's own. */
function describeApiError(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: string; reason?: string };
      if (status.message) return `${status.message}${status.reason ? ` (${status.reason})` : ''}`;
    } catch {
      // Not a Status.
    }
  }
  return error instanceof Error ? error.message : String(error);
}
