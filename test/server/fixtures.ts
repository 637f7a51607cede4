/**
 * A dashboard over a seeded store, for the API and security tests: the app in-process
 * (no port), logs in a temp folder. Backend-agnostic: the store comes from a factory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type App, createApp } from '../../src/server/index.ts';
import type { FlowSpec } from '../../src/spec/index.ts';
import { attemptFiles, FileLogStore, type Store, type TaskState } from '../../src/store/index.ts';

export const TOKEN = 'test-token-1234';

/** A flow a → b (b mapped over nothing yet) with two params. */
export function spec(flow = 'sales'): FlowSpec {
  const task = (id: string, needs: string[], produces = {}, consumes: string[] = []) => ({
    id,
    run: { kind: 'shell' as const, script: `echo ${id}` },
    needs,
    env: {},
    trigger: 'all_success' as const,
    retries: 0,
    retryDelayMs: 0,
    retryBackoff: 1,
    priority: 0,
    produces,
    consumes,
    resources: {},
  });
  return {
    flow,
    description: 'a test flow',
    schedule: [],
    catchup: false,
    maxActiveRuns: 1,
    params: {
      region: { type: 'string', default: 'eu', enum: ['eu', 'us'], required: false },
      rows: { type: 'int', default: 10, required: false },
    },
    tasks: [
      task('extract', [], { sales_raw: {} }),
      task('report', ['extract'], {}, ['sales_raw', 'rates']),
    ],
  };
}

export interface Seeded {
  readonly store: Store;
  readonly app: App;
  readonly logsRoot: string;
  readonly versionId: number;
  /** Run ids, oldest first. */
  readonly runs: readonly string[];
  /** Authorised request helper. */
  call(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
}

/** Sets a task run's state through the store's compare-and-set path, as a scheduler would. */
export async function advance(
  store: Store,
  id: number,
  path: readonly TaskState[],
  at = 1,
): Promise<void> {
  for (let i = 1; i < path.length; i++)
    await store.writeBatch(
      [{ kind: 'move', id, from: path[i - 1] as TaskState, to: path[i] as TaskState }],
      at,
    );
}

/**
 * Seeds `runCount` runs of flow `sales` (created 1 s apart): the last is running (extract
 * succeeded with a log, report running), the others succeeded. Opens the app on it.
 */
export async function seed(
  open: () => Promise<Store>,
  t: { after: (fn: () => Promise<void> | void) => void },
  options: { runCount?: number; readOnly?: boolean; token?: string | null } = {},
): Promise<Seeded> {
  const store = await open();
  await store.migrate();
  const logsRoot = mkdtempSync(join(tmpdir(), 'baton-api-logs-'));
  const version = await store.saveFlowVersion({
    flow: 'sales',
    hash: 'h1',
    sourcePath: '/nowhere/sales.yaml',
    sourceText: 'flow: sales\n# stored source\n',
    spec: spec(),
  });
  const runs: string[] = [];
  const count = options.runCount ?? 3;
  for (let i = 0; i < count; i++) {
    const id = `run-${String(i).padStart(3, '0')}`;
    runs.push(id);
    await store.createRun(
      {
        id,
        flow: 'sales',
        flowVersionId: version.id,
        trigger: 'manual',
        runKey: null,
        logicalDate: 1_000_000 + i,
        params: { region: 'eu', rows: i },
        baseDir: '/nowhere',
        createdAt: 1_700_000_000_000 + i * 1000,
      },
      ['extract', 'report'].map((taskId) => ({
        runId: id,
        taskId,
        mapIndex: -1,
        attempt: 1,
        state: 'pending' as const,
      })),
    );
    await store.moveRun(id, 'queued', 'running', 1_700_000_000_000 + i * 1000);
    const [extract, report] = await store.listTaskRuns(id);
    await advance(store, extract?.id ?? 0, ['pending', 'queued', 'running', 'success']);
    await store.writeBatch(
      [
        {
          kind: 'asset',
          runId: id,
          taskRunId: extract?.id ?? 0,
          asset: 'sales_raw',
          metadata: { rows: 100 + i },
        },
      ],
      1_700_000_000_000 + i * 1000,
    );
    const last = i === count - 1;
    await advance(
      store,
      report?.id ?? 0,
      last ? ['pending', 'queued', 'running'] : ['pending', 'queued', 'running', 'success'],
    );
    if (!last) await store.moveRun(id, 'running', 'success', 1_700_000_000_500 + i * 1000);
    const log = attemptFiles(logsRoot, {
      runId: id,
      taskId: 'extract',
      mapIndex: -1,
      attempt: 1,
    }).log;
    mkdirSync(dirname(log), { recursive: true });
    writeFileSync(log, `hello from ${id}\nsecond line ünïcode\n`);
  }
  const token = options.token === undefined ? TOKEN : options.token;
  const app = createApp({
    store,
    logs: new FileLogStore(logsRoot),
    readOnly: options.readOnly ?? false,
    token,
    pollMs: 20,
  });
  t.after(async () => {
    app.close();
    await store.close();
    rmSync(logsRoot, { recursive: true, force: true });
  });
  return {
    store,
    app,
    logsRoot,
    versionId: version.id,
    runs,
    call(path, init = {}) {
      const { token: given, ...rest } = init;
      const headers = new Headers(rest.headers);
      const bearer = given === undefined ? token : given;
      if (bearer) headers.set('authorization', `Bearer ${bearer}`);
      if (rest.body !== undefined) headers.set('content-type', 'application/json');
      return app.fetch(new Request(`http://dashboard.test${path}`, { ...rest, headers }));
    },
  };
}

/** POSTs JSON. */
export function postJson(body: unknown): RequestInit {
  return { method: 'POST', body: JSON.stringify(body) };
}
