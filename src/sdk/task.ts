// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the flow template syntax.
/**
 * Tasks of an SDK flow: their options (the flow file's keys, with references where
 * templates go), their typed outputs and assets, and their translation to a task of the
 * flow file.
 */
import { BatonError, didYouMean, type TaskFile } from '../spec/index.ts';
import type { ParamDecls, ParamValues } from './param.ts';
import { celOf, expectKind, member, Ref, templateOf, type Untyped } from './ref.ts';

/** Task settings that mean the same as in a flow file (docs/flows.md). */
type TaskSettings = Omit<
  TaskFile,
  'run' | 'function' | 'needs' | 'env' | 'if' | 'map' | 'max_parallel' | 'resources' | 'produces'
>;

/** What any task may say: the flow file's task keys, with references where templates go. */
export interface TaskOptions<A extends string = never> extends TaskSettings {
  /** Upstream tasks beyond those whose outputs or assets this task uses (found by Baton). */
  readonly needs?: readonly (Task<unknown, string> | string)[];
  readonly env?: Readonly<Record<string, string | number | boolean | Ref<unknown>>>;
  /** false, or an expression that is false, skips the task. */
  readonly if?: boolean | string | Ref<boolean>;
  /** Fan out: one task run per item of this list. */
  readonly map?: readonly unknown[] | Ref<readonly unknown[]>;
  /** At most this many map items at once: a number, or an expression computed with the map. */
  readonly max_parallel?: number | Ref<number>;
  /** Numbers, or expressions computed when the task becomes ready (memory in bytes). */
  readonly resources?: {
    readonly cpu?: number | Ref<number>;
    readonly memory?: number | Ref<number>;
  };
  /** Assets the task writes, by key; `task.assets.<key>` refers to their metadata. */
  readonly produces?: {
    readonly [K in A]: {
      readonly path?: string;
      readonly partition?: string;
      readonly description?: string;
    } | null;
  };
}

/** A task that runs a program: a shell line, or an argv list. */
export interface CommandTaskOptions<O extends string = never, A extends string = never>
  extends TaskOptions<A> {
  /** A string runs under `/bin/sh -c` (references quoted for the shell); a list is an argv. */
  readonly run: string | readonly (string | Ref<unknown>)[];
  /** The names of the outputs the program writes to `$BATON_OUTPUT` (`task.outputs.<name>`). */
  readonly outputs?: readonly O[];
}

/** A task that runs a TypeScript function; `inputs` are its arguments. */
export interface FunctionTaskOptions<I, A extends string = never> extends TaskOptions<A> {
  /** Values the function receives as `inputs`: upstream outputs, params, literals. */
  readonly inputs?: I;
}

/** What a function task receives. */
export interface TaskArgs<P extends ParamDecls, I> {
  /** The run's parameters, typed as declared. */
  readonly params: ParamValues<P>;
  /** The `inputs` given to the task, resolved to values. */
  readonly inputs: I;
  /** The map item, in a task with `map`. */
  readonly item: Untyped;
  /** The map item's position, from 0, in a task with `map`. */
  readonly index: number | undefined;
  readonly attempt: number;
  readonly run: { readonly id: string; readonly flow: string; readonly logicalDate: string };
}

/** What a function task returns: its outputs (JSON values, by name), or nothing. */
// biome-ignore lint/suspicious/noConfusingVoidType: a function that returns nothing is typed void.
export type TaskResult = Readonly<Record<string, unknown>> | undefined | void;

export type TaskFunction<P extends ParamDecls, I, R extends TaskResult> = (
  args: TaskArgs<P, I>,
) => R | Promise<R>;

/** The values of references, as a function receives them. */
export type InputValues<I> = { readonly [K in keyof I]: I[K] extends Ref<infer T> ? T : I[K] };

/** Typed references to a function task's outputs, from its return type. */
export type OutputRefs<R> = {
  readonly [K in keyof NonNullable<Awaited<R>>]-?: Ref<NonNullable<Awaited<R>>[K]>;
};

/** Metadata of an asset, as references (`${{ assets.<key>.bytes }}`). */
export interface AssetRef extends Ref<Untyped> {
  readonly bytes: Ref<number>;
  readonly files: Ref<number>;
  readonly rows: Ref<number>;
  readonly partitions: Ref<string[]>;
  /** Any other metadata field. */
  meta<T = Untyped>(name: string): Ref<T>;
}

/**
 * A task of a flow. `outputs.<name>` and `assets.<key>` are references; using one in
 * another task makes this task its upstream. `outputs` itself is all outputs (a list in
 * map order for a mapped task).
 */
export interface Task<O, A extends string = never> {
  readonly id: string;
  readonly outputs: O & Ref<Untyped>;
  readonly assets: { readonly [K in A]: AssetRef };
}

/** A task as built: its flow-file keys, and for a function task the function. */
export interface BuiltTask {
  readonly id: string;
  readonly file: Omit<TaskFile, 'needs'> & { function?: undefined };
  readonly needs: readonly string[];
  readonly fn?: (args: TaskArgs<ParamDecls, unknown>) => unknown;
}

/** An asset's metadata as references. */
export function assetRef(key: string): AssetRef {
  const base = member('assets', key);
  const ref = new Ref(base) as Ref<Untyped> & Record<string, unknown>;
  return Object.assign(ref, {
    bytes: new Ref<number>(`${base}.bytes`, 'number'),
    files: new Ref<number>(`${base}.files`, 'number'),
    rows: new Ref<number>(`${base}.rows`, 'number'),
    partitions: new Ref<string[]>(`${base}.partitions`, 'list'),
    meta: <T>(name: string) => new Ref<T>(member(base, name)),
  }) as unknown as AssetRef;
}

/**
 * References to a task's outputs. With declared names (a command task), any other name
 * is an error even when TypeScript is bypassed; a function task's names come from its
 * return type, which only TypeScript sees.
 */
export function outputRefs(id: string, declared: readonly string[] | undefined): Ref<Untyped> {
  const base = `${member('tasks', id)}.outputs`;
  return new Proxy(new Ref(base), {
    get(target, name, receiver) {
      // `then` too: an object with one would be taken for a promise by `await`.
      if (name === 'then') return undefined;
      if (typeof name !== 'string' || (name in target && !declared?.includes(name)))
        return Reflect.get(target, name, receiver);
      if (declared !== undefined && !declared.includes(name)) {
        const known = declared.length ? `declared: ${declared.join(', ')}` : 'it declares none';
        throw new BatonError(
          'spec.invalid',
          `task "${id}" has no output "${name}"${didYouMean(name, declared)}; ${known} (add it to "outputs")`,
          { task: id, output: name },
        );
      }
      return new Ref(member(base, name));
    },
  });
}

/** The flow-file form of a task's options (without `needs`, which the flow computes). */
export function taskFile(
  id: string,
  options: CommandTaskOptions<string, string>,
): BuiltTask['file'] {
  const {
    needs: _needs,
    outputs: _outputs,
    inputs: _inputs,
    ...rest
  } = options as CommandTaskOptions<string, string> & { inputs?: unknown };
  const where = `task "${id}"`;
  expectKind(options.map, ['list'], `${where}: "map"`, 'a list');
  expectKind(options.if, ['bool'], `${where}: "if"`, 'true or false');
  expectKind(options.max_parallel, ['number'], `${where}: "max_parallel"`, 'a number');
  expectKind(options.resources?.cpu, ['number'], `${where}: "resources.cpu"`, 'a number');
  expectKind(options.resources?.memory, ['number'], `${where}: "resources.memory"`, 'a number');
  const file: Record<string, unknown> = { ...rest };
  if (Array.isArray(options.run)) file.run = options.run.map((a) => templateOf(a));
  if (options.env !== undefined) {
    file.env = Object.fromEntries(
      Object.entries(options.env).map(([k, v]) => [k, templateOf(v)] as const),
    );
  }
  if (options.if !== undefined) file.if = templateOf(options.if);
  if (options.map !== undefined) file.map = templateOf(options.map);
  if (options.max_parallel !== undefined) file.max_parallel = templateOf(options.max_parallel);
  if (options.resources !== undefined) {
    file.resources = Object.fromEntries(
      Object.entries(options.resources).map(([k, v]) => [k, templateOf(v)] as const),
    );
  }
  return file as BuiltTask['file'];
}

/** The environment variable that carries a function task's inputs, as JSON. */
export const INPUTS_VARIABLE = 'BATON_INPUTS';

/** `inputs` as one expression yielding a map, rendered to JSON when the task starts. */
export function inputsTemplate(inputs: Readonly<Record<string, unknown>>): string {
  return `\${{ ${celOf(inputs)} }}`;
}
