/**
 * One list+watch loop over a namespace's Baton pods, written on the client's `Watch`
 * rather than its informer: the informer stops for good on any error but 410 and never asks
 * for bookmarks (RELIABILITY.md §3.9). This loop
 * - starts from the resource version kept in the executor state (a hint: 410 → relist),
 * - asks for bookmarks and a server-side timeout, so an idle watch still advances,
 * - relists on 410 (HTTP status or ERROR event) and hands the whole list over to be
 *   reconciled, since what happened in the gap is only visible there,
 * - rewatches after a clean close at once, after an error with backoff (1 s doubling to
 *   30 s), forever until stopped,
 * - and lists every `resyncMs` regardless: correctness never depends on the watch.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type CoreV1Api, type KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';

/** Where an executor keeps small values across restarts (the database, via the CLI). */
export interface ExecutorState {
  load(key: string): Promise<string | null>;
  save(key: string, value: string): Promise<void>;
}

export interface PodWatchOptions {
  readonly kubeConfig: KubeConfig;
  readonly api: CoreV1Api;
  readonly namespace: string;
  /** What lists select: every pod this installation may have to reconcile or collect. */
  readonly labelSelector: string;
  /**
   * What the watch selects, if narrower (this process's own pods): a pod that leaves it
   * (another process adopted it) comes as DELETED without `deletionTimestamp`.
   */
  readonly watchSelector?: string;
  readonly state?: ExecutorState;
  readonly stateKey: string;
  readonly resyncMs: number;
  /** Handles one watch event (ADDED, MODIFIED, DELETED). */
  readonly onEvent: (type: string, pod: V1Pod) => void;
  /** Handles a full list: every pod that exists now (missing ones are gone). */
  readonly onList: (pods: V1Pod[]) => void;
  /** Told of every failure the loop recovers from (for logs and health). */
  readonly onTrouble?: (what: string, error: unknown) => void;
}

const BACKOFF_START_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
// The server ends each watch after this; a fresh request is cheap and bounds staleness.
const WATCH_TIMEOUT_SECONDS = 300;
// The resource version is written at most this often: a write per event would cost more
// than the watch itself, and a stale value only means replaying a little more.
const SAVE_EVERY_MS = 1000;

export class PodWatch {
  /** Lists done because the watch could not resume (410) or at start; for tests. */
  relists = 0;
  readonly #o: PodWatchOptions;
  readonly #watch: Watch;
  readonly #stop = new AbortController();
  #rv: string | null = null;
  #savedRv: string | null = null;
  #saveTimer: NodeJS.Timeout | null = null;
  #resyncTimer: NodeJS.Timeout | null = null;
  #request: AbortController | null = null;
  #loop: Promise<void> | null = null;

  constructor(options: PodWatchOptions) {
    this.#o = options;
    this.#watch = new Watch(options.kubeConfig);
  }

  start(): void {
    this.#loop ??= this.#run();
    this.#resyncTimer = setInterval(() => void this.resync(), this.#o.resyncMs);
    this.#resyncTimer.unref();
  }

  /** Lists now and hands the list over (the periodic safety net; also callable at will). */
  async resync(): Promise<void> {
    try {
      await this.#list();
    } catch (error) {
      this.#o.onTrouble?.('resync list', error);
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#request?.abort();
    if (this.#resyncTimer) clearInterval(this.#resyncTimer);
    await this.#loop?.catch(() => {});
    await this.#flush();
  }

  async #run(): Promise<void> {
    try {
      this.#rv = (await this.#o.state?.load(this.#o.stateKey)) ?? null;
      this.#savedRv = this.#rv;
    } catch (error) {
      this.#o.onTrouble?.('load resource version', error);
    }
    // A stored version resumes the watch where the last process left it: what happened
    // meanwhile comes as events. One the server no longer holds answers 410 → list.
    let backoffMs = BACKOFF_START_MS;
    while (!this.#stop.signal.aborted) {
      try {
        if (this.#rv === null) {
          this.#rv = await this.#list();
          this.relists++;
          this.#scheduleSave();
        }
        const outcome = await this.#watchOnce();
        if (outcome === 'gone') this.#rv = null;
        if (outcome !== 'error') {
          backoffMs = BACKOFF_START_MS;
          continue;
        }
      } catch (error) {
        this.#o.onTrouble?.('list', error);
      }
      await sleep(backoffMs, undefined, { signal: this.#stop.signal }).catch(() => {});
      backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
    }
  }

  /**
   * Lists with the installation's selector: a superset of the watch's, so that pods no
   * process follows are found (and collected) and adopted pods are still seen.
   */
  async #list(): Promise<string> {
    const list = await this.#o.api.listNamespacedPod({
      namespace: this.#o.namespace,
      labelSelector: this.#o.labelSelector,
    });
    if (!this.#stop.signal.aborted) this.#o.onList(list.items);
    return list.metadata?.resourceVersion ?? '';
  }

  /** One watch request: `gone` (410: relist), `closed` (clean end: resume), or `error`. */
  #watchOnce(): Promise<'gone' | 'closed' | 'error'> {
    return new Promise((resolve) => {
      let gone = false;
      const path = `/api/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/pods`;
      const query = {
        resourceVersion: this.#rv ?? undefined,
        labelSelector: this.#o.watchSelector ?? this.#o.labelSelector,
        allowWatchBookmarks: true,
        timeoutSeconds: WATCH_TIMEOUT_SECONDS,
      };
      const onEvent = (type: string, object: Record<string, unknown>) => {
        if (gone || this.#stop.signal.aborted) return;
        if (type === 'ERROR') {
          // The apiserver reports an expired version as an event in a 200 response; the
          // stream ends after it (A8 in RELIABILITY.md: never let this escape).
          if (object.code === 410) gone = true;
          else this.#o.onTrouble?.('watch error event', object);
          return;
        }
        const pod = object as V1Pod;
        if (type !== 'BOOKMARK') this.#o.onEvent(type, pod);
        const rv = pod.metadata?.resourceVersion;
        if (rv) {
          this.#rv = rv;
          this.#scheduleSave();
        }
      };
      const done = (error: unknown) => {
        this.#request = null;
        const status = (error as { statusCode?: number; code?: number } | null)?.statusCode;
        if (gone || status === 410) resolve('gone');
        else if (
          error === null ||
          (error as Error)?.name === 'TimeoutError' ||
          (error as Error)?.name === 'AbortError'
        )
          resolve('closed');
        else {
          this.#o.onTrouble?.('watch', error);
          resolve('error');
        }
      };
      this.#watch.watch(path, query, onEvent, done).then(
        (controller) => {
          this.#request = controller;
          if (this.#stop.signal.aborted) controller.abort();
        },
        (error) => done(error),
      );
    });
  }

  #scheduleSave(): void {
    if (!this.#o.state || this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = null;
      void this.#flush();
    }, SAVE_EVERY_MS);
    this.#saveTimer.unref();
  }

  async #flush(): Promise<void> {
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveTimer = null;
    const rv = this.#rv;
    if (!this.#o.state || rv === null || rv === this.#savedRv) return;
    try {
      await this.#o.state.save(this.#o.stateKey, rv);
      this.#savedRv = rv;
    } catch (error) {
      this.#o.onTrouble?.('save resource version', error);
    }
  }
}
