/**
 * Typed run parameters: `param.string({ default: 'eu', enum: ['eu', 'us'] })`. The type of
 * each parameter follows to its uses: `params.region` is a `Ref<'eu' | 'us'>` in
 * expressions and a `'eu' | 'us'` inside a function task.
 */
import type { ParamFile } from '../spec/index.ts';
import { Ref, type RefKind } from './ref.ts';
import { strictNames } from './strict-names.ts';

type ParamTypeName = ParamFile['type'];

/** One declared parameter; `T` is its value's type. */
export interface Param<T> {
  readonly type: ParamTypeName;
  readonly options: ParamOptions<unknown>;
  /** Type-only: the value's type. */
  readonly valueType?: T;
}

/** What every parameter may say besides its type (docs/flows.md, "params"). */
export interface ParamOptions<T> {
  /** Used when a run does not set the parameter; without one, the run must set it. */
  readonly default?: T;
  readonly description?: string;
  /** Default: true without a default, else false. */
  readonly required?: boolean;
}

/** Options of a scalar parameter, which may also list its allowed values. */
export interface ScalarOptions<T> extends ParamOptions<NoInfer<T>> {
  readonly enum?: readonly T[];
}

function declare<T>(type: ParamTypeName, options: object = {}): Param<T> {
  return { type, options };
}

/** Builders of typed parameters, one per parameter type. */
export const param = {
  /** A string; with `enum`, one of those strings (and typed as their union). */
  string: <const T extends string = string>(options?: ScalarOptions<T>) =>
    declare<T>('string', options),
  /** An integer (`-p days=7` on the command line). */
  int: <const T extends number = number>(options?: ScalarOptions<T>) => declare<T>('int', options),
  /** Any finite number. */
  number: <const T extends number = number>(options?: ScalarOptions<T>) =>
    declare<T>('number', options),
  /** true or false. */
  bool: (options?: ParamOptions<boolean>) => declare<boolean>('bool', options),
  /** A JSON list (`-p tables='["a","b"]'`). */
  list: <T = unknown>(options?: ParamOptions<readonly T[]>) => declare<T[]>('list', options),
  /** A JSON map. */
  map: <T extends Record<string, unknown> = Record<string, unknown>>(options?: ParamOptions<T>) =>
    declare<T>('map', options),
};

/** Declared parameters, by name. */
export type ParamDecls = Readonly<Record<string, Param<unknown>>>;

/** The parameters' values, as a function task receives them. */
export type ParamValues<P extends ParamDecls> = {
  readonly [K in keyof P]: P[K] extends Param<infer T> ? T : never;
};

/** The parameters as references, for expressions (`params.region`). */
export type ParamRefs<P extends ParamDecls> = {
  readonly [K in keyof P]: P[K] extends Param<infer T> ? Ref<T> : never;
};

const KIND: Readonly<Record<ParamTypeName, RefKind>> = {
  string: 'string',
  int: 'number',
  number: 'number',
  bool: 'bool',
  list: 'list',
  map: 'map',
};

/**
 * References to every declared parameter (`${{ params.<name> }}`). Any other name is an
 * error even when TypeScript is bypassed.
 */
export function paramRefs<P extends ParamDecls>(params: P): ParamRefs<P> {
  const refs: Record<string, Ref<unknown>> = {};
  for (const [name, p] of Object.entries(params)) {
    refs[name] = new Ref(`params.${name}`, KIND[p.type]);
  }
  return strictNames(refs, 'parameter', 'spec.param', 'the flow') as ParamRefs<P>;
}

/** A parameter as the flow file writes it. */
export function paramFile(p: Param<unknown>): ParamFile {
  return { type: p.type, ...p.options } as ParamFile;
}
