/**
 * `flow(name, options, build)`: a flow written in TypeScript. `build` declares the tasks
 * with the `task` it is given; the result is a `Flow`, which Baton turns into the same
 * flow-file data a YAML file holds (`toFile`) and validates and normalises the same way.
 */
import { BatonError, type FlowFile, type ParamFile } from '../spec/index.ts';
import { type CallSite, callerSite } from './call-site.ts';
import { inferNeeds } from './needs.ts';
import { type ParamDecls, type ParamRefs, paramFile, paramRefs } from './param.ts';
import { Ref, type Untyped } from './ref.ts';
import { strictNames } from './strict-names.ts';
import {
  type AssetRef,
  assetRef,
  type BuiltTask,
  type CommandTaskOptions,
  type FunctionTaskOptions,
  INPUTS_VARIABLE,
  type InputValues,
  inputsTemplate,
  type OutputRefs,
  outputRefs,
  type Task,
  type TaskArgs,
  type TaskFunction,
  type TaskResult,
  taskFile,
} from './task.ts';

/** Marks a `Flow` across copies of the SDK (the runner may load another copy). */
export const FLOW_MARK: unique symbol = Symbol.for('baton.sdk.flow');
/** `flow[FUNCTION_OF](taskId)`: a function task's function, for the runner. */
export const FUNCTION_OF: unique symbol = Symbol.for('baton.sdk.function-of');

/** The flow's keys of a flow file, except its tasks; `params` typed with `param`. */
export interface FlowOptions<P extends ParamDecls>
  extends Omit<FlowFile, 'flow' | 'tasks' | 'params'> {
  readonly params?: P;
}

/** Declares tasks of the flow being built. */
export interface TaskBuilder<P extends ParamDecls> {
  /** A task that runs a command (`run`): a shell line or an argv list. */
  <const O extends string = never, const A extends string = never>(
    id: string,
    options: CommandTaskOptions<O, A>,
  ): Task<{ readonly [K in O]: Ref<Untyped> }, A>;
  /** A task that runs a TypeScript function in its own process. */
  <R extends TaskResult>(
    id: string,
    fn: TaskFunction<P, Record<string, never>, R>,
  ): Task<OutputRefs<R>>;
  /** A function task with settings; `inputs` become the function's `inputs`. */
  <
    const I extends Readonly<Record<string, unknown>>,
    R extends TaskResult,
    const A extends string = never,
  >(
    id: string,
    options: FunctionTaskOptions<I, A>,
    fn: TaskFunction<P, InputValues<I>, R>,
  ): Task<OutputRefs<R>, A>;
}

/** What `build` receives: the task builder and references for expressions. */
export interface FlowContext<P extends ParamDecls> {
  readonly task: TaskBuilder<P>;
  /** The run's parameters (`${{ params.<name> }}`), typed as declared. */
  readonly params: ParamRefs<P>;
  readonly run: {
    readonly id: Ref<string>;
    readonly flow: Ref<string>;
    /** YYYY-MM-DD (UTC). */
    readonly date: Ref<string>;
    /** ISO 8601. */
    readonly logical_date: Ref<string>;
    readonly trigger: Ref<string>;
  };
  /** The map item, in a task with `map`. */
  readonly item: Ref<Untyped>;
  /** The map item's position, in a task with `map`. */
  readonly index: Ref<number>;
  readonly attempt: Ref<number>;
  /** Metadata of any asset, also one another flow produces (`${{ assets.<key> }}`). */
  asset(key: string): AssetRef;
}

/** Where a function task's code lives, as the flow file records it. */
export interface FunctionLocation {
  /** The module, relative to the flow file. */
  readonly module: string;
  /** The module's export that holds this flow. */
  readonly export: string;
  readonly sha256: string;
}

/** A flow as flow-file data, with where each part was declared (for error positions). */
export interface FlowSource {
  readonly file: FlowFile;
  readonly sites: { readonly flow?: CallSite; readonly tasks: Record<string, CallSite> };
}

/** A flow built by the SDK. Export it from the module (`export default flow(…)`). */
export class Flow {
  readonly [FLOW_MARK] = true;
  readonly name: string;
  readonly #options: FlowOptions<ParamDecls>;
  readonly #tasks: (BuiltTask & { site?: CallSite })[] = [];
  readonly #ids = new Set<string>();
  readonly #site: CallSite | undefined;

  constructor(name: string, options: FlowOptions<ParamDecls>, site: CallSite | undefined) {
    this.name = name;
    this.#options = options;
    this.#site = site;
  }

  /** Adds a task; used by the builder `flow` hands to `build`. */
  add(task: BuiltTask, site: CallSite | undefined): void {
    if (this.#ids.has(task.id)) {
      throw new BatonError(
        'spec.duplicate',
        `task id "${task.id}" is used twice in flow "${this.name}"`,
        {
          task: task.id,
        },
      );
    }
    this.#ids.add(task.id);
    this.#tasks.push({ ...task, ...(site && { site }) });
  }

  /**
   * The flow-file data of this flow. Function tasks need `location`: the module and
   * export the runner will import, and the module's hash.
   */
  toFile(location?: FunctionLocation): FlowSource {
    const needs = inferNeeds(this.#tasks);
    const tasks: Record<string, unknown> = {};
    const sites: Record<string, CallSite> = {};
    for (const t of this.#tasks) {
      let file: Record<string, unknown> = { ...t.file };
      if (t.fn !== undefined) {
        if (location === undefined)
          throw new BatonError('internal', `function task "${t.id}" needs its module's location`);
        file = { ...file, function: { ...location } };
      }
      const taskNeeds = needs.get(t.id) ?? [];
      tasks[t.id] = taskNeeds.length ? placeNeeds(file, taskNeeds) : file;
      if (t.site) sites[t.id] = t.site;
    }
    const { description, schedule, catchup, max_active_runs, params, defaults, ...rest } =
      this.#options;
    const paramFiles: Record<string, ParamFile> = {};
    for (const [name, p] of Object.entries(params ?? {})) paramFiles[name] = paramFile(p);
    // The keys in the order docs/flows.md lists them; unknown ones (types bypassed) last,
    // for validation to report.
    const file = {
      flow: this.name,
      ...(description !== undefined && { description }),
      ...(schedule !== undefined && { schedule }),
      ...(catchup !== undefined && { catchup }),
      ...(max_active_runs !== undefined && { max_active_runs }),
      ...(params !== undefined && { params: paramFiles }),
      ...(defaults !== undefined && { defaults }),
      ...rest,
      tasks,
    } as FlowFile;
    return { file, sites: { ...(this.#site && { flow: this.#site }), tasks: sites } };
  }

  /** The function of a function task, or undefined (used by the function runner). */
  [FUNCTION_OF](taskId: string): BuiltTask['fn'] {
    return this.#tasks.find((t) => t.id === taskId)?.fn;
  }
}

// `needs` right after `description` and `run`, where a flow file writes it.
function placeNeeds(file: Record<string, unknown>, needs: string[]): Record<string, unknown> {
  const { description, run, function: fn, ...rest } = file;
  return {
    ...(description !== undefined && { description }),
    ...(run !== undefined && { run }),
    ...(fn !== undefined && { function: fn }),
    needs,
    ...rest,
  };
}

/**
 * Declares a flow. `build` runs at once and declares the tasks with `task`; its
 * references (`params`, `tasks' outputs`, assets) become `${{ }}` expressions.
 */
export function flow<const P extends ParamDecls = Record<string, never>>(
  name: string,
  options: FlowOptions<P>,
  build: (ctx: FlowContext<P>) => void,
): Flow;
export function flow(name: string, build: (ctx: FlowContext<Record<string, never>>) => void): Flow;
export function flow(
  name: string,
  optionsOrBuild: FlowOptions<ParamDecls> | ((ctx: FlowContext<ParamDecls>) => void),
  maybeBuild?: (ctx: FlowContext<ParamDecls>) => void,
): Flow {
  const options = typeof optionsOrBuild === 'function' ? {} : optionsOrBuild;
  const build = typeof optionsOrBuild === 'function' ? optionsOrBuild : maybeBuild;
  if (build === undefined)
    throw new BatonError('spec.invalid', `flow "${name}": give a function that declares its tasks`);
  const result = new Flow(name, options, callerSite());
  build(context(result, options.params ?? {}));
  return result;
}

function context(target: Flow, params: ParamDecls): FlowContext<ParamDecls> {
  const task = (
    id: string,
    optionsOrFn:
      | CommandTaskOptions<string, string>
      | ((args: TaskArgs<ParamDecls, unknown>) => unknown),
    maybeFn?: (args: TaskArgs<ParamDecls, unknown>) => unknown,
  ) => {
    const site = callerSite();
    const options = typeof optionsOrFn === 'function' ? undefined : optionsOrFn;
    const fn = typeof optionsOrFn === 'function' ? optionsOrFn : maybeFn;
    let file = taskFile(id, (options ?? {}) as CommandTaskOptions<string, string>);
    if (fn !== undefined) {
      const { inputs } = (options ?? {}) as FunctionTaskOptions<Record<string, unknown>, string>;
      if (inputs !== undefined && Object.keys(inputs).length > 0)
        file = { ...file, env: { ...file.env, [INPUTS_VARIABLE]: inputsTemplate(inputs) } };
    }
    const needs = (options?.needs ?? []).map((n) => (typeof n === 'string' ? n : n.id));
    target.add({ id, file, needs, ...(fn && { fn }) }, site);
    const declared = fn === undefined ? (options?.outputs ?? []) : undefined;
    const assets: Record<string, AssetRef> = {};
    for (const key of Object.keys(options?.produces ?? {})) assets[key] = assetRef(key);
    return {
      id,
      outputs: outputRefs(id, declared),
      assets: strictNames(assets, 'asset', 'spec.invalid', `task "${id}" produces`),
    };
  };
  return {
    task: task as TaskBuilder<ParamDecls>,
    params: paramRefs(params),
    run: {
      id: new Ref('run.id', 'string'),
      flow: new Ref('run.flow', 'string'),
      date: new Ref('run.date', 'string'),
      logical_date: new Ref('run.logical_date', 'string'),
      trigger: new Ref('run.trigger', 'string'),
    },
    item: new Ref('item'),
    index: new Ref('index', 'number'),
    attempt: new Ref('attempt', 'number'),
    asset: assetRef,
  };
}

/** Whether a value is a `Flow` (of any copy of the SDK). */
export function isFlow(value: unknown): value is Flow {
  return typeof value === 'object' && value !== null && FLOW_MARK in value;
}
