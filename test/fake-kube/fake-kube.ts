/**
 * A fake Kubernetes API server for pods: the contract Baton's Kubernetes executor relies
 * on, small enough to read. It speaks the real core/v1 paths to the official client (and
 * to kubectl) through a kubeconfig, and simulates the scheduler and kubelet (kubelet.ts):
 * pods really run their command as local processes.
 *
 * What it implements (RELIABILITY.md §3, MUST items for pods):
 * - create (201; 409 AlreadyExists; 422 Invalid name/labels; server-owned status and
 *   defaults), get, list (label/field selectors, list resourceVersion), delete (grace
 *   periods, finalizers, preconditions), patch (json-patch, merge-patch, strategic merge
 *   treated as merge; `metadata.resourceVersion` precondition → 409 Conflict);
 * - watch: headers flushed at once, one JSON event per line, `resourceVersion` start
 *   points, `allowWatchBookmarks` (bookmark every `bookmarkMs`), `timeoutSeconds` (clean
 *   close), cacher selector semantics, 410 Gone for a compacted revision as an ERROR event
 *   (what the apiserver does) or as HTTP 410 (`goneAs: 'http'`);
 * - pod logs: `follow`, `tailLines`, `limitBytes`; 400 while the container waits;
 * - Status bodies for every error; a bearer token checked on every API request.
 *
 * Faults and observation, from tests in-process (the methods below) or over HTTP under
 * `/_fake/` (see `#control`): outcome rules by label selector, strikes on a running pod,
 * compaction (mid-stream ERROR 410 to open watches), dropped / closed / stalled watches,
 * failures of the next matching requests (including "stored, then connection reset"),
 * an API server restart that drops every connection, and the log of creates.
 */
import { randomUUID } from 'node:crypto';
import {
  createReadStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kubelet, type Outcome } from './kubelet.ts';
import { PodStore, sendEvent, type Watcher } from './pod-store.ts';
import { BadSelector, fieldMatcher, labelMatcher, type Pod } from './selectors.ts';

export type { Outcome } from './kubelet.ts';

/** Options of {@link startFakeKube}. */
export interface FakeKubeOptions {
  /** Default 0: any free port on 127.0.0.1. */
  readonly port?: number;
  /** Bearer token every API request must carry. Default `fake-token`. */
  readonly token?: string;
  /**
   * Also serve requests with no Authorization header (an apiserver with anonymous auth).
   * kubectl sends no token over plain HTTP, so the standalone fake turns this on.
   */
  readonly allowAnonymous?: boolean;
  /** How often a watch that asked for bookmarks gets one. Default 60,000 ms (apiserver). */
  readonly bookmarkMs?: number;
  /** Changes kept for watches to resume from; older revisions get 410. Default 10,000. */
  readonly historyLimit?: number;
}

/** One create request as the fake saw it: the oracle for "no pod created twice". */
export interface CreateRecord {
  readonly namespace: string;
  readonly name: string;
  readonly code: number;
  readonly at: number;
}

/** One patch request as the fake answered it (200, 409 Conflict, …). */
export interface PatchRecord {
  readonly namespace: string;
  readonly name: string;
  readonly code: number;
}

/** Requests held until `count` have arrived (see `FakeKube.gather`). */
interface GatherRule {
  readonly method: string;
  readonly path: RegExp;
  readonly count: number;
  readonly held: (() => void)[];
}

interface FailRule {
  readonly method: string;
  readonly path: RegExp;
  readonly status: number;
  /** `status`: answer with it; `stored`: do the work, then answer with it; `reset`: do the work, then drop the connection. */
  readonly mode: 'status' | 'stored' | 'reset';
  count: number;
}

export interface FakeKube {
  readonly url: string;
  readonly token: string;
  /** Writes a kubeconfig pointing at the fake; returns its path. */
  writeKubeconfig(path: string, namespace?: string): string;
  /** Every create request so far. */
  readonly creates: readonly CreateRecord[];
  /** Every pod patch request so far, with the status it got. */
  readonly patches: readonly PatchRecord[];
  /**
   * Holds the next `count` requests matching method and path until all of them have
   * arrived, then serves them in arrival order: a barrier that makes concurrent clients
   * meet (two adopters patching one pod from the same version). Not a fault: a real API
   * server may always see requests this way.
   */
  gather(method: string, path: RegExp, count: number): void;
  /** Pods as stored now (all namespaces, or one). */
  pods(namespace?: string): Pod[];
  /**
   * Resolves once `condition` holds, checked now and after every change to a pod; rejects
   * after `timeoutMs` (default 60 s) with `what` in the message.
   */
  until(what: string, condition: () => boolean, timeoutMs?: number): Promise<void>;
  /** Scripts an outcome for pods matching `selector` (created from now on, or running). */
  rule(selector: string, outcome: Outcome, afterMs?: number): void;
  /** Applies an outcome to a running pod now; false if it has no live container. */
  strike(namespace: string, name: string, outcome: Outcome): boolean;
  /** Forgets history (410 for older revisions); open watches get ERROR 410 and close. */
  compact(goneAs?: 'event' | 'http'): void;
  /** Resets every watch connection (client sees a socket error). */
  dropWatches(): void;
  /** Stalls (or un-stalls) open watches: sockets stay open, no bytes flow. */
  stallWatches(stalled: boolean): void;
  /** Fails the next `count` requests matching method and path. */
  failNext(
    method: string,
    path: RegExp,
    status: number,
    count?: number,
    mode?: FailRule['mode'],
  ): void;
  /** Drops every connection, keeps objects and history (an API server restart). */
  restart(): void;
  /** Number of watch requests served, of list requests, and of single-pod GETs. */
  readonly counts: { watches: number; lists: number; reads: number };
  close(): Promise<void>;
}

/** What discovery clients (kubectl) ask first: the version, and that core/v1 has pods. */
const DISCOVERY: Record<string, object> = {
  '/version': { major: '1', minor: '33', gitVersion: 'v1.33.0-fake', platform: 'linux/amd64' },
  '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
  '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
  '/api/v1': {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      {
        name: 'pods',
        singularName: 'pod',
        namespaced: true,
        kind: 'Pod',
        shortNames: ['po'],
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'],
      },
      { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    ],
  },
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function status(code: number, reason: string, message: string, details?: object): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

class ApiError extends Error {
  readonly body: object;
  readonly code: number;
  constructor(code: number, reason: string, message: string, details?: object) {
    super(message);
    this.code = code;
    this.body = status(code, reason, message, details);
  }
}

const notFound = (name: string) =>
  new ApiError(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });

/** Starts the fake on 127.0.0.1. */
export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const token = options.token ?? 'fake-token';
  const bookmarkMs = options.bookmarkMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-'));
  const store = new PodStore(options.historyLimit);
  const kubelet = new Kubelet(store, dir);
  const creates: CreateRecord[] = [];
  const patches: PatchRecord[] = [];
  const gatherRules: GatherRule[] = [];
  const failRules: FailRule[] = [];
  const counts = { watches: 0, lists: 0, reads: 0 };
  let goneAs: 'event' | 'http' = 'event';

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const e =
        error instanceof ApiError ? error : new ApiError(500, 'InternalError', String(error));
      if (!res.headersSent) json(res, e.code, e.body);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/_fake/')) return control(method, url, req, res);
    if (DISCOVERY[url.pathname]) return json(res, 200, DISCOVERY[url.pathname]);
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${token}` && !(auth === undefined && options.allowAnonymous))
      throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    const gather = gatherRules.find(
      (r) => r.held.length < r.count && r.method === method && r.path.test(url.pathname),
    );
    if (gather) {
      await new Promise<void>((resolve) => {
        gather.held.push(resolve);
        if (gather.held.length === gather.count) {
          gatherRules.splice(gatherRules.indexOf(gather), 1);
          for (const release of gather.held) release();
        }
      });
    }
    const fail = failRules.find(
      (r) => r.count > 0 && r.method === method && r.path.test(url.pathname),
    );
    if (fail) {
      fail.count--;
      if (fail.mode === 'status') {
        if (fail.status === 429) res.setHeader('Retry-After', '1');
        throw new ApiError(
          fail.status,
          fail.status === 429 ? 'TooManyRequests' : 'InternalError',
          'injected fault',
        );
      }
    }
    const after = (result: () => void) => {
      if (fail?.mode === 'reset') res.destroy();
      else if (fail?.mode === 'stored')
        json(
          res,
          fail.status,
          status(fail.status, 'InternalError', 'injected fault after storing'),
        );
      else result();
    };
    const path = url.pathname;
    if (path === '/version')
      return json(res, 200, { major: '1', minor: '33', gitVersion: 'v1.33.0-fake' });
    if (path === '/api') return json(res, 200, { kind: 'APIVersions', versions: ['v1'] });
    let m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods$/.exec(path);
    if (m) {
      const namespace = m[1] ?? null;
      if (method === 'GET') {
        const w = url.searchParams.get('watch');
        if (w === 'true' || w === '1') return watch(namespace, url, res);
        return list(namespace, url, res);
      }
      if (method === 'POST' && namespace !== null) {
        const body = await readJson(req);
        return create(namespace, body, res, after);
      }
      throw new ApiError(405, 'MethodNotAllowed', `${method} not allowed on ${path}`);
    }
    m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(\/log)?$/.exec(path);
    if (m) {
      const [, namespace, name, log] = m as unknown as [string, string, string, string | undefined];
      if (log) return podLog(namespace, name, url, res);
      // The body first, then the pod: preconditions are checked against the pod as it is
      // when the write applies (the apiserver's GuaranteedUpdate), not as it was when the
      // request arrived; two patches from one version must not both pass.
      const body =
        method === 'DELETE'
          ? await readJson(req).catch(() => ({}))
          : method === 'PATCH'
            ? await readJson(req)
            : undefined;
      const pod = store.get(namespace, name);
      if (method === 'GET') {
        counts.reads++;
        if (!pod) throw notFound(name);
        return json(res, 200, pod);
      }
      if (method === 'DELETE') {
        if (!pod) throw notFound(name);
        const pre = body?.preconditions ?? {};
        if (
          (pre.uid && pre.uid !== pod.metadata.uid) ||
          (pre.resourceVersion && pre.resourceVersion !== pod.metadata.resourceVersion)
        )
          throw new ApiError(
            409,
            'Conflict',
            `Operation cannot be fulfilled on pods "${name}": precondition failed`,
          );
        const q = url.searchParams.get('gracePeriodSeconds');
        const grace = body?.gracePeriodSeconds ?? (q === null ? undefined : Number(q));
        const out = kubelet.delete(pod, grace);
        return after(() => json(res, 200, out));
      }
      if (method === 'PATCH') {
        const record = (code: number) => patches.push({ namespace, name, code });
        if (!pod) {
          record(404);
          throw notFound(name);
        }
        const type = String(req.headers['content-type'] ?? '').split(';')[0];
        const next =
          type === 'application/json-patch+json' ? jsonPatch(pod, body) : mergePatch(pod, body);
        const wanted = next.metadata?.resourceVersion;
        if (wanted !== undefined && wanted !== pod.metadata.resourceVersion) {
          record(409);
          throw new ApiError(
            409,
            'Conflict',
            `Operation cannot be fulfilled on pods "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        }
        // Status is server-owned, and so are the identity fields.
        next.status = pod.status;
        next.metadata = { ...next.metadata, name, namespace, uid: pod.metadata.uid };
        validate(next);
        const stored = store.commit('MODIFIED', next);
        kubelet.patched(stored);
        record(200);
        return after(() => json(res, 200, stored));
      }
    }
    throw new ApiError(
      404,
      'NotFound',
      `the server could not find the requested resource (${method} ${path})`,
    );
  }

  function create(
    namespace: string,
    body: Pod,
    res: ServerResponse,
    after: (r: () => void) => void,
  ): void {
    const name: string =
      body?.metadata?.name ??
      (body?.metadata?.generateName
        ? `${body.metadata.generateName}${randomUUID().slice(0, 5)}`
        : '');
    const record = (code: number) => creates.push({ namespace, name, code, at: Date.now() });
    if (store.get(namespace, name)) {
      record(409);
      throw new ApiError(409, 'AlreadyExists', `pods "${name}" already exists`, {
        name,
        kind: 'pods',
      });
    }
    const pod = structuredClone(body);
    pod.apiVersion = 'v1';
    pod.kind = 'Pod';
    pod.metadata = {
      ...pod.metadata,
      name,
      namespace,
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      generation: 1,
    };
    delete pod.metadata.generateName;
    pod.spec = { restartPolicy: 'Always', terminationGracePeriodSeconds: 30, ...pod.spec };
    for (const c of pod.spec.containers ?? []) {
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      c.imagePullPolicy ??= String(c.image ?? '').endsWith(':latest') ? 'Always' : 'IfNotPresent';
    }
    pod.status = { phase: 'Pending', qosClass: qosClass(pod) };
    try {
      validate(pod);
    } catch (e) {
      record((e as ApiError).code ?? 422);
      throw e;
    }
    record(201);
    const stored = store.commit('ADDED', pod);
    kubelet.created(stored);
    after(() => json(res, 201, stored));
  }

  function list(namespace: string | null, url: URL, res: ServerResponse): void {
    counts.lists++;
    const matches = selectors(url);
    const items = store.list(namespace, matches);
    json(res, 200, {
      kind: 'PodList',
      apiVersion: 'v1',
      metadata: { resourceVersion: String(store.revision) },
      items,
    });
  }

  function watch(namespace: string | null, url: URL, res: ServerResponse): void {
    counts.watches++;
    const matches = selectors(url);
    const rv = url.searchParams.get('resourceVersion');
    const from = rv === null || rv === '' || rv === '0' ? null : Number(rv);
    if (
      from !== null &&
      (!Number.isFinite(from) || from < store.compactedRevision) &&
      goneAs === 'http'
    )
      throw new ApiError(
        410,
        'Expired',
        `too old resource version: ${rv} (${store.compactedRevision})`,
      );
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const timers: NodeJS.Timeout[] = [];
    const watcher: Watcher = {
      namespace,
      matches,
      res,
      stalled: false,
      close: () => {
        for (const t of timers) clearTimeout(t);
        store.watchers.delete(watcher);
        if (!res.writableEnded) res.end();
      },
    };
    res.on('close', () => {
      for (const t of timers) clearTimeout(t);
      store.watchers.delete(watcher);
    });
    if (from === null) {
      for (const pod of store.list(namespace, matches)) sendEvent(res, 'ADDED', pod);
    } else if (!Number.isFinite(from) || !store.replay(watcher, from)) {
      // What the apiserver's cacher does: 200, one ERROR event, a clean close.
      sendEvent(
        res,
        'ERROR',
        status(410, 'Expired', `too old resource version: ${rv} (${store.compactedRevision})`),
      );
      res.end();
      return;
    }
    store.watchers.add(watcher);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    if (timeout > 0) timers.push(setTimeout(() => watcher.close(), timeout * 1000));
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      const tick = () => {
        if (!watcher.stalled)
          sendEvent(res, 'BOOKMARK', {
            kind: 'Pod',
            apiVersion: 'v1',
            metadata: { resourceVersion: String(store.revision) },
          });
        timers.push(setTimeout(tick, bookmarkMs));
      };
      timers.push(setTimeout(tick, bookmarkMs));
    }
  }

  function podLog(namespace: string, name: string, url: URL, res: ServerResponse): void {
    const pod = store.get(namespace, name);
    const log = kubelet.log(namespace, name);
    if (!pod || !log) throw notFound(name);
    if (!log.started) {
      const container = pod.spec.containers[0]?.name ?? 'main';
      const why = pod.status.containerStatuses?.[0]?.state?.waiting?.reason ?? 'ContainerCreating';
      throw new ApiError(
        400,
        'BadRequest',
        `container "${container}" in pod "${name}" is waiting to start: ${why}`,
      );
    }
    const limit = Number(url.searchParams.get('limitBytes') ?? 0) || Number.POSITIVE_INFINITY;
    const tailLines = url.searchParams.get('tailLines');
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    if (url.searchParams.get('follow') !== 'true') {
      if (tailLines === null) {
        // Streamed: a 300 MB log must not be read into memory for a limitBytes request.
        const size = statSync(log.path, { throwIfNoEntry: false })?.size ?? 0;
        const end = Math.min(size, limit);
        if (end === 0) res.end();
        else
          createReadStream(log.path, { start: 0, end: end - 1 })
            .on('error', () => res.destroy()) // the pod (and its log) went meanwhile
            .pipe(res);
        return;
      }
      const lines = readFileSync(log.path).toString('utf8').split('\n');
      const keep =
        lines.at(-1) === '' ? lines.slice(-Number(tailLines) - 1) : lines.slice(-Number(tailLines));
      const text = Buffer.from(keep.join('\n'));
      res.end(text.subarray(0, Math.min(text.length, limit)));
      return;
    }
    // Follow: send what is there, then what the container appends, until it has ended.
    let offset = 0;
    let sent = 0;
    const pump = () => {
      if (res.destroyed) return;
      const size = statSync(log.path, { throwIfNoEntry: false })?.size ?? 0;
      const ended = kubelet.log(namespace, name)?.ended ?? true;
      if (size > offset && sent < limit) {
        const end = Math.min(size, offset + (limit - sent));
        const stream = createReadStream(log.path, { start: offset, end: end - 1 });
        sent += end - offset;
        offset = end;
        stream.on('end', () => setTimeout(pump, 0));
        stream.on('error', () => res.end()); // the pod (and its log) went meanwhile
        stream.pipe(res, { end: false });
        return;
      }
      if (ended || sent >= limit) res.end();
      else setTimeout(pump, 50);
    };
    pump();
  }

  function selectors(url: URL) {
    try {
      const labels = labelMatcher(url.searchParams.get('labelSelector'));
      const fields = fieldMatcher(url.searchParams.get('fieldSelector'));
      return (pod: Pod) => labels(pod) && fields(pod);
    } catch (e) {
      if (e instanceof BadSelector) throw new ApiError(400, 'BadRequest', e.message);
      throw e;
    }
  }

  async function control(
    method: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const body = method === 'POST' ? await readJson(req).catch(() => ({})) : {};
    const ok = (value: unknown = { ok: true }) => json(res, 200, value);
    switch (`${method} ${url.pathname}`) {
      case 'GET /_fake/creates':
        return ok(creates);
      case 'POST /_fake/rules':
        fake.rule(body.selector, body.outcome, body.afterMs);
        return ok();
      case 'POST /_fake/strike':
        return ok({ ok: fake.strike(body.namespace, body.name, body.outcome) });
      case 'POST /_fake/compact':
        fake.compact(body.goneAs);
        return ok();
      case 'POST /_fake/watches/drop':
        fake.dropWatches();
        return ok();
      case 'POST /_fake/watches/stall':
        fake.stallWatches(body.stalled !== false);
        return ok();
      case 'POST /_fake/fail':
        fake.failNext(body.method, new RegExp(body.path), body.status, body.count, body.mode);
        return ok();
      case 'POST /_fake/restart':
        ok();
        setImmediate(() => fake.restart());
        return;
    }
    throw new ApiError(404, 'NotFound', `no control endpoint ${method} ${url.pathname}`);
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeKube = {
    url,
    token,
    creates,
    patches,
    gather(method, path, count) {
      gatherRules.push({ method, path, count, held: [] });
    },
    counts,
    writeKubeconfig(path, namespace = 'default') {
      writeFileSync(path, kubeconfig(url, token, namespace));
      return path;
    },
    pods: (namespace) => store.list(namespace ?? null, () => true),
    until(what, condition, timeoutMs = 60_000) {
      if (condition()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!condition()) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`fake-kube: timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          store.listeners.delete(check);
        };
        store.listeners.add(check);
      });
    },
    rule(selector, outcome, afterMs = 0) {
      const matches = labelMatcher(selector);
      kubelet.rules.push({ matches, outcome, afterMs });
      if (outcome === 'oom' || outcome === 'evict' || outcome === 'node_lost')
        for (const pod of store.list(null, matches))
          setTimeout(
            () => kubelet.strike(pod.metadata.namespace, pod.metadata.name, outcome),
            afterMs,
          );
    },
    strike: (namespace, name, outcome) => kubelet.strike(namespace, name, outcome),
    compact(mode = 'event') {
      goneAs = mode;
      store.compact();
      for (const watcher of [...store.watchers]) {
        sendEvent(
          watcher.res,
          'ERROR',
          status(410, 'Expired', `too old resource version (${store.revision})`),
        );
        watcher.close();
      }
    },
    dropWatches() {
      for (const watcher of [...store.watchers]) {
        store.watchers.delete(watcher);
        watcher.res.destroy();
      }
    },
    stallWatches(stalled) {
      for (const watcher of store.watchers) watcher.stalled = stalled;
    },
    failNext(method, path, code, count = 1, mode = 'status') {
      failRules.push({ method, path, status: code, count, mode });
    },
    restart() {
      store.watchers.clear();
      server.closeAllConnections();
    },
    async close() {
      kubelet.shutdown();
      store.watchers.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fake;
}

/** A kubeconfig for the fake: plain HTTP needs `insecure-skip-tls-verify` with client-node 2.x. */
export function kubeconfig(url: string, token: string, namespace = 'default'): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: ${url}
    insecure-skip-tls-verify: true
users:
- name: fake
  user:
    token: ${token}
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
    namespace: ${namespace}
current-context: fake
`;
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Pod> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'BadRequest', 'request body is not JSON');
  }
}

function validate(pod: Pod): void {
  const causes: { field: string; message: string }[] = [];
  const name: string = pod.metadata.name;
  if (!name || name.length > 253 || !DNS_SUBDOMAIN.test(name))
    causes.push({
      field: 'metadata.name',
      message: `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
    });
  for (const [key, value] of Object.entries(pod.metadata.labels ?? {})) {
    if (!LABEL_KEY.test(key) || key.split('/').at(-1)!.length > 63)
      causes.push({ field: `metadata.labels`, message: `invalid label key "${key}"` });
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value))
      causes.push({ field: `metadata.labels`, message: `invalid label value "${String(value)}"` });
  }
  if (!Array.isArray(pod.spec?.containers) || pod.spec.containers.length === 0)
    causes.push({ field: 'spec.containers', message: 'Required value' });
  if (causes.length > 0)
    throw new ApiError(
      422,
      'Invalid',
      `Pod "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
      {
        name,
        kind: 'Pod',
        causes: causes.map((c) => ({ reason: 'FieldValueInvalid', ...c })),
      },
    );
}

function qosClass(pod: Pod): string {
  const all = pod.spec.containers ?? [];
  const requests = all.some((c: Pod) => c.resources?.requests || c.resources?.limits);
  return requests ? 'Burstable' : 'BestEffort';
}

/** RFC 7386 merge patch; `null` removes a key. */
function mergePatch(target: Pod, patch: Pod): Pod {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** RFC 6902 json-patch: add, remove, replace, test (what clients send for metadata). */
function jsonPatch(target: Pod, ops: Pod): Pod {
  const doc = structuredClone(target);
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json-patch body must be a list');
  for (const op of ops) {
    const parts = String(op.path)
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop() as string;
    let parent = doc;
    for (const p of parts) {
      if (parent[p] === undefined)
        throw new ApiError(422, 'Invalid', `json-patch: path ${op.path} does not exist`);
      parent = parent[p];
    }
    if (op.op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(op.value))
        throw new ApiError(422, 'Invalid', `json-patch: test failed at ${op.path}`);
    } else if (op.op === 'remove') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else if (op.op === 'add' && Array.isArray(parent)) {
      parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
    } else if (op.op === 'add' || op.op === 'replace') {
      parent[last] = op.value;
    } else throw new ApiError(400, 'BadRequest', `json-patch: unsupported op ${op.op}`);
  }
  return doc;
}
