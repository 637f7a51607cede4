/**
 * Turns a valid flow file into a `FlowSpec`: defaults applied, durations in milliseconds,
 * expressions without their `${{ }}`, tasks in topological order.
 */
import { unwrapExpression } from './check-expressions.ts';
import { parseDuration } from './duration.ts';
import type { FlowSpec, KubernetesSpec, ParamSpec, RunSpec, TaskSpec } from './flow-spec.ts';
import type { FlowFile, TaskFile } from './schema.ts';

/** Default for `max_active_runs`: runs of one flow do not overlap unless asked to. */
export const DEFAULT_MAX_ACTIVE_RUNS = 1;
/** Default time zone of a schedule. */
export const DEFAULT_TIMEZONE = 'UTC';

/**
 * Normalises a flow that passed the schema and the document checks; `order` is the
 * task order those checks computed.
 */
export function normaliseFlow(file: FlowFile, order: readonly string[]): FlowSpec {
  const params: Record<string, ParamSpec> = {};
  for (const [name, p] of Object.entries(file.params ?? {})) {
    params[name] = {
      type: p.type,
      ...(p.default !== undefined && { default: p.default }),
      ...(p.enum !== undefined && { enum: p.enum }),
      ...(p.description !== undefined && { description: p.description }),
      // A parameter without a default must be given; one with a default need not be.
      required: p.required ?? p.default === undefined,
    };
  }
  return {
    flow: file.flow,
    ...(file.description !== undefined && { description: file.description }),
    schedule: (file.schedule ?? []).map((s) => ({
      cron: s.cron,
      timezone: s.timezone ?? DEFAULT_TIMEZONE,
    })),
    ...(file.on !== undefined && { onAssets: [...new Set(file.on.assets)] }),
    ...(file.start_date !== undefined && { startDate: file.start_date }),
    ...(file.end_date !== undefined && { endDate: file.end_date }),
    catchup: file.catchup ?? false,
    maxActiveRuns: file.max_active_runs ?? DEFAULT_MAX_ACTIVE_RUNS,
    params,
    tasks: order.map((id) => normaliseTask(id, file.tasks[id]!, file.defaults ?? {})),
  };
}

function normaliseTask(
  id: string,
  task: TaskFile,
  defaults: NonNullable<FlowFile['defaults']>,
): TaskSpec {
  const timeout = task.timeout ?? defaults.timeout;
  const workdir = task.workdir ?? defaults.workdir;
  const image = task.image ?? defaults.image;
  const pool = task.pool ?? defaults.pool;
  const executor = task.executor ?? defaults.executor;
  const queue = task.queue ?? defaults.queue;
  const produces: Record<string, { path?: string; partition?: string }> = {};
  for (const [key, asset] of Object.entries(task.produces ?? {})) {
    produces[key] = {
      ...(asset?.path !== undefined && { path: asset.path }),
      ...(asset?.partition !== undefined && { partition: asset.partition }),
    };
  }
  const resources: { cpu?: number | string; memory?: number | string } = {};
  if (task.resources?.cpu !== undefined) resources.cpu = task.resources.cpu;
  if (task.resources?.memory !== undefined) resources.memory = task.resources.memory;
  return {
    id,
    ...(task.description !== undefined && { description: task.description }),
    run: normaliseRun(task),
    needs: [...new Set(task.needs ?? [])],
    env: stringify({ ...defaults.env, ...task.env }),
    ...(workdir !== undefined && { workdir }),
    ...(image !== undefined && { image }),
    // `if: true` is the same as no condition; `false` stays, as an expression.
    ...(task.if !== undefined && task.if !== true && { if: expression(task.if) }),
    trigger: task.trigger ?? 'all_success',
    retries: task.retries ?? defaults.retries ?? 0,
    retryDelayMs: durationMs(task.retry_delay ?? defaults.retry_delay) ?? 0,
    retryBackoff: task.retry_backoff ?? defaults.retry_backoff ?? 1,
    ...(typeof timeout === 'string' && timeout.includes('${{')
      ? { timeout }
      : timeout !== undefined && { timeoutMs: durationMs(timeout) }),
    ...(pool !== undefined && { pool }),
    priority: task.priority ?? 0,
    ...(executor !== undefined && { executor }),
    ...(queue !== undefined && { queue }),
    ...(task.map !== undefined && {
      map: typeof task.map === 'string' ? expression(task.map) : task.map,
    }),
    ...(task.max_parallel !== undefined && { maxParallel: task.max_parallel }),
    produces,
    consumes: task.consumes ?? [],
    ...(task.cache !== undefined && {
      cache: {
        key: task.cache.key,
        ...(task.cache.ttl !== undefined && { ttlMs: durationMs(task.cache.ttl) }),
      },
    }),
    resources,
    ...kubernetesOf(defaults.kubernetes, task.kubernetes),
  };
}

/** Task keys win over the defaults' key by key; maps and lists are not merged deeper. */
function kubernetesOf(
  defaults: TaskFile['kubernetes'],
  task: TaskFile['kubernetes'],
): { kubernetes?: KubernetesSpec } {
  if (defaults === undefined && task === undefined) return {};
  const k = { ...defaults, ...task };
  const spec: KubernetesSpec = {
    ...(k.namespace !== undefined && { namespace: k.namespace }),
    ...(k.service_account !== undefined && { serviceAccount: k.service_account }),
    ...(k.node_selector !== undefined && { nodeSelector: k.node_selector }),
    ...(k.tolerations !== undefined && { tolerations: k.tolerations }),
    ...(k.labels !== undefined && { labels: k.labels }),
    ...(k.annotations !== undefined && { annotations: k.annotations }),
    ...(k.image_pull_secrets !== undefined && { imagePullSecrets: k.image_pull_secrets }),
    ...(k.volumes !== undefined && { volumes: k.volumes }),
    ...(k.volume_mounts !== undefined && { volumeMounts: k.volume_mounts }),
  };
  return { kubernetes: spec };
}

function normaliseRun(task: TaskFile): RunSpec {
  if (task.function !== undefined) return { kind: 'function', ...task.function };
  // The document checks guarantee exactly one of "run" and "function".
  const run = task.run!;
  return typeof run === 'string' ? { kind: 'shell', script: run } : { kind: 'argv', argv: run };
}

function expression(value: string | boolean): string {
  if (typeof value === 'boolean') return String(value);
  return (unwrapExpression(value)?.expr ?? value).trim();
}

function durationMs(value: string | number | undefined): number | undefined {
  return value === undefined ? undefined : parseDuration(value);
}

function stringify(
  env: Readonly<Record<string, string | number | boolean>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) out[name] = String(value);
  return out;
}
