/**
 * FlowSpec: the normalised form of a flow, whatever it was written in (YAML, the SDK).
 * Defaults are applied, durations are milliseconds, tasks are in a topological order.
 * It is plain JSON: stored with every flow version, so nothing later needs the flow file.
 *
 * Strings that may hold `${{ … }}` templates are kept as written; they are resolved when
 * the task becomes ready (see `resolve.ts`).
 */
import type { TRIGGER_RULES } from './schema.ts';

export type TriggerRule = (typeof TRIGGER_RULES)[number];
export type ExecutorName = 'sequential' | 'local' | 'kubernetes' | 'worker';
export type ParamType = 'string' | 'int' | 'number' | 'bool' | 'list' | 'map';

export interface ParamSpec {
  readonly type: ParamType;
  readonly default?: unknown;
  readonly enum?: readonly (string | number | boolean)[];
  readonly description?: string;
  readonly required: boolean;
}

export interface ScheduleSpec {
  readonly cron: string;
  readonly timezone: string;
}

/**
 * `shell`: run under `/bin/sh -c` (templates quoted for their shell context); `argv`: exec
 * directly; `function`: an SDK function task, run by Node on the machine that runs the task
 * (`module` is relative to the flow's base directory).
 */
export type RunSpec =
  | { readonly kind: 'shell'; readonly script: string }
  | { readonly kind: 'argv'; readonly argv: readonly string[] }
  | {
      readonly kind: 'function';
      readonly module: string;
      readonly export: string;
      readonly sha256: string;
    };

/** Pod settings of a task on the Kubernetes executor (the `kubernetes:` block). */
export interface KubernetesSpec {
  readonly namespace?: string;
  readonly serviceAccount?: string;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly tolerations?: readonly Readonly<Record<string, unknown>>[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly imagePullSecrets?: readonly string[];
  readonly volumes?: readonly Readonly<Record<string, unknown>>[];
  readonly volumeMounts?: readonly Readonly<Record<string, unknown>>[];
}

export interface TaskSpec {
  readonly id: string;
  readonly description?: string;
  readonly run: RunSpec;
  readonly needs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workdir?: string;
  readonly image?: string;
  /** Expression (without `${{ }}`); absent means always. */
  readonly if?: string;
  readonly trigger: TriggerRule;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryBackoff: number;
  readonly timeoutMs?: number;
  /** A `timeout` written as an expression, resolved per attempt (then `timeoutMs` is absent). */
  readonly timeout?: string;
  readonly pool?: string;
  readonly priority: number;
  readonly executor?: ExecutorName;
  /** The worker queue (`queue:`), for the worker executor. */
  readonly queue?: string;
  /** Expression (without `${{ }}`) yielding a list, or a literal list. */
  readonly map?: string | readonly unknown[];
  /** A number, or a template resolved when the map is expanded. */
  readonly maxParallel?: number | string;
  /** Templates, rendered after a successful attempt. */
  readonly produces: Readonly<
    Record<string, { readonly path?: string; readonly partition?: string }>
  >;
  readonly consumes: readonly string[];
  readonly cache?: { readonly key: string; readonly ttlMs?: number };
  /** Numbers, or templates resolved when the task becomes ready. */
  readonly resources: { readonly cpu?: number | string; readonly memory?: number | string };
  /** Pod settings on Kubernetes: the flow's `defaults.kubernetes` with the task's on top. */
  readonly kubernetes?: KubernetesSpec;
}

export interface FlowSpec {
  readonly flow: string;
  readonly description?: string;
  readonly schedule: readonly ScheduleSpec[];
  /** `on.assets`: a run per new materialisation of any of these assets. Absent: none. */
  readonly onAssets?: readonly string[];
  /** As written (local time in the first schedule's zone); absent: from the first deploy. */
  readonly startDate?: string;
  /** As written, inclusive (a date alone means the whole day). */
  readonly endDate?: string;
  readonly catchup: boolean;
  readonly maxActiveRuns: number;
  readonly params: Readonly<Record<string, ParamSpec>>;
  /** Topologically sorted: every task comes after all of its `needs`. */
  readonly tasks: readonly TaskSpec[];
}

/** A parsed flow file: its source text (stored with the version) and its normalised spec. */
export interface LoadedFlow {
  readonly spec: FlowSpec;
  readonly source: string;
  readonly path: string;
  /** Directory that relative `workdir`s and the default working directory resolve against. */
  readonly baseDir: string;
}
