import { formatBytes, NotFoundError, UsageError } from '../spec/index.ts';
import type { AssetEvent, Store } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION, positiveInt } from './args.ts';
import { table, when } from './format.ts';
import { findProject, openProjectStore } from './project.ts';

export const assetsCommand: CommandDef = {
  name: 'assets',
  usage: 'baton assets [ASSET] [--field NAME] [--limit N] [--json]',
  summary:
    'Lists assets: their latest metadata, the tasks that produce and consume them across the\n' +
    'deployed flows, and the flows they trigger. With ASSET: its materialisations, newest\n' +
    'first; with --field, the history of one metadata value (e.g. --field bytes).',
  options: {
    field: { type: 'string', value: 'NAME', help: 'with ASSET: the history of this metadata key' },
    limit: {
      type: 'string',
      value: 'N',
      help: 'with ASSET: at most N materialisations (default 20)',
    },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
};

/** One materialisation as `baton assets` shows it. */
interface Materialised {
  readonly id: number;
  readonly at: number;
  readonly runId: string;
  readonly partition: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** One asset: what the deployed flows say about it and its newest materialisation. */
interface AssetRow {
  readonly asset: string;
  /** `flow.task` of every deployed task that declares it in `produces`, and its last producer. */
  readonly producers: string[];
  /** `flow.task` of every deployed task that declares it in `consumes`. */
  readonly consumers: string[];
  /** Deployed flows that run on its materialisations (`on: assets`). */
  readonly triggers: string[];
  readonly latest: Materialised | null;
}

function materialised(e: AssetEvent): Materialised {
  return { id: e.id, at: e.at, runId: e.runId, partition: e.partition, metadata: e.metadata };
}

/** Every asset known from deployed flows or from materialisations, by key. */
async function catalogue(store: Store): Promise<Map<string, AssetRow>> {
  const rows = new Map<string, AssetRow>();
  const row = (asset: string): AssetRow => {
    let r = rows.get(asset);
    if (r === undefined) {
      r = { asset, producers: [], consumers: [], triggers: [], latest: null };
      rows.set(asset, r);
    }
    return r;
  };
  const addOnce = (list: string[], name: string) => {
    if (!list.includes(name)) list.push(name);
  };
  for (const flow of await store.listFlows()) {
    if (flow.deployedVersionId === null) continue;
    const spec = (await store.getFlowVersion(flow.deployedVersionId))?.spec;
    if (spec === undefined) continue;
    for (const task of spec.tasks) {
      for (const asset of Object.keys(task.produces))
        addOnce(row(asset).producers, `${spec.flow}.${task.id}`);
      for (const asset of task.consumes) addOnce(row(asset).consumers, `${spec.flow}.${task.id}`);
    }
    for (const asset of spec.onAssets ?? []) addOnce(row(asset).triggers, spec.flow);
  }
  for (const event of await store.latestAssetEvents()) {
    const r = row(event.asset);
    rows.set(event.asset, { ...r, latest: materialised(event) });
    // A task may report an asset it does not declare: its producer is still a producer.
    const [run, taskRun] = await Promise.all([
      store.getRun(event.runId),
      store.getTaskRun(event.taskRunId),
    ]);
    if (run && taskRun) addOnce(r.producers, `${run.flow}.${taskRun.taskId}`);
  }
  return new Map([...rows.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** A metadata value as people read it: sizes for byte counts, else JSON. */
function showValue(key: string, value: unknown): string {
  if (typeof value === 'number' && /bytes/.test(key)) return formatBytes(value);
  const text = JSON.stringify(value) ?? '';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function showMetadata(metadata: Readonly<Record<string, unknown>>): string {
  return Object.entries(metadata)
    .map(([k, v]) => `${k}=${showValue(k, v)}`)
    .join(' ');
}

/** `baton assets [ASSET]`. */
export async function assets(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const asset = positionals[0];
  const field = values.field as string | undefined;
  const limit = positiveInt(values.limit, '--limit') ?? 20;
  if (field !== undefined && asset === undefined)
    throw new UsageError('--field needs an ASSET: baton assets ASSET --field NAME');
  const store = await openProjectStore(findProject(process.cwd(), values.db as string | undefined));
  try {
    const rows = await catalogue(store);
    if (asset === undefined) return listAll([...rows.values()], Boolean(values.json));
    const row = rows.get(asset);
    if (row === undefined) {
      const known = [...rows.keys()];
      throw new NotFoundError(
        `no asset "${asset}" in ${store.url} (${known.length > 0 ? `known: ${known.join(', ')}` : 'none yet: tasks declare them with produces'})`,
        { asset },
      );
    }
    const history = (await store.assetHistory(asset, { limit })).map(materialised);
    return showOne(row, history, field, Boolean(values.json));
  } finally {
    await store.close();
  }
}

function listAll(rows: readonly AssetRow[], json: boolean): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('no assets yet (tasks declare them with produces and consumes)\n');
    return 0;
  }
  process.stdout.write(
    `${table(
      ['ASSET', 'LATEST', 'METADATA', 'PRODUCED BY', 'CONSUMED BY'],
      rows.map((r) => [
        r.asset,
        r.latest ? when(r.latest.at) : 'never',
        r.latest ? showMetadata(r.latest.metadata) : '',
        r.producers.join(', '),
        [...r.consumers, ...r.triggers.map((f) => `${f} (on)`)].join(', '),
      ]),
    )}\n`,
  );
  return 0;
}

function showOne(
  row: AssetRow,
  history: readonly Materialised[],
  field: string | undefined,
  json: boolean,
): number {
  if (field !== undefined) {
    const values = history.map((m) => ({
      at: m.at,
      runId: m.runId,
      partition: m.partition,
      value: m.metadata[field] ?? null,
    }));
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ asset: row.asset, field, history: values }, null, 2)}\n`,
      );
      return 0;
    }
    process.stdout.write(
      `${table(
        ['RECORDED', 'RUN', 'PARTITION', field.toUpperCase()],
        values.map((v) => [
          when(v.at),
          v.runId,
          v.partition ?? '',
          v.value === null ? '-' : showValue(field, v.value),
        ]),
      )}\n`,
    );
    return 0;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...row, history }, null, 2)}\n`);
    return 0;
  }
  const out = [
    `Asset        ${row.asset}`,
    `Produced by  ${row.producers.join(', ') || '-'}`,
    `Consumed by  ${row.consumers.join(', ') || '-'}`,
    `Triggers     ${row.triggers.join(', ') || '-'}`,
    '',
    table(
      ['RECORDED', 'RUN', 'PARTITION', 'METADATA'],
      history.map((m) => [when(m.at), m.runId, m.partition ?? '', showMetadata(m.metadata)]),
    ),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
