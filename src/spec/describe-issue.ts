// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the flow template syntax, not a JS template.
/**
 * Turns zod's issues into sentences for people: what is wrong, with which key, what was
 * found and what to write instead. zod's own messages ("Invalid input: expected number,
 * received string") name neither the key nor the fix.
 */
import type { z } from 'zod';
import { contextOf, fieldName, type NodePath, type PathProblem } from './path-problem.ts';
import { didYouMean } from './suggest.ts';

const DURATION = 'a duration like "10s", "15m" or "1h30m"';
const EXPRESSION_OR_NUMBER = 'a positive number or an expression "${{ … }}"';

// What each key holds, said the way the docs say it. Keyed by `parent.key` first, then by
// key alone; `*` stands for any name (an env variable, an asset key) and `#` for an index.
const EXPECTED: Readonly<Record<string, string>> = {
  flow: 'a flow name (a string)',
  description: 'a string',
  schedule: 'a list of { cron, timezone } entries',
  'schedule.#': 'a map like { cron: "0 6 * * *", timezone: Europe/Berlin }',
  cron: 'a cron expression (a string)',
  timezone: 'an IANA time zone name (a string) like Europe/Berlin',
  catchup: 'true or false',
  start_date: 'a date "YYYY-MM-DD" or date-time "YYYY-MM-DDTHH:MM" (quote it)',
  end_date: 'a date "YYYY-MM-DD" or date-time "YYYY-MM-DDTHH:MM" (quote it)',
  max_active_runs: 'a positive integer',
  params: 'a map of parameter names to definitions',
  'params.*': 'a map like { type: string, default: eu }',
  type: 'one of string, int, number, bool, list, map',
  enum: 'a list of strings, numbers or booleans',
  'enum.#': 'a string, number or boolean',
  required: 'true or false',
  defaults: 'a map of task settings',
  tasks: 'a map of task ids to tasks',
  'tasks.*': 'a map of task settings with at least "run"',
  run: 'a command string or a non-empty list of strings',
  'run.#': 'a string',
  function: 'a map { module, export, sha256 } (written by the SDK)',
  module: 'a module path (a string)',
  export: 'an export name (a string)',
  sha256: "the module's sha256, 64 hex digits",
  needs: 'a list of task ids',
  'needs.#': 'a task id (a string)',
  env: 'a map of variable names to values',
  'env.*': 'a string, number or boolean',
  workdir: 'a string',
  image: 'a string',
  if: 'an expression "${{ … }}" or a boolean',
  retries: 'a non-negative integer',
  retry_delay: DURATION,
  retry_backoff: 'a number of at least 1',
  timeout: DURATION,
  ttl: DURATION,
  pool: 'a pool name: up to 100 characters, no spaces or control characters',
  priority: 'an integer',
  map: 'an expression "${{ … }}" or a list',
  max_parallel: 'a positive integer',
  produces: 'a map of asset keys to { path } (or nothing)',
  'produces.*': 'a map like { path: data/out/ }, or nothing',
  path: 'a string',
  consumes: 'a list of asset keys',
  'consumes.#': 'an asset key (a string)',
  cache: 'a map like { key: "${{ params.region }}", ttl: 1d }',
  key: 'a string (it may hold "${{ … }}")',
  resources: 'a map with "cpu" and/or "memory"',
  cpu: EXPRESSION_OR_NUMBER,
  memory: EXPRESSION_OR_NUMBER,
};

/** Converts one zod issue into problems (an unknown-keys issue yields one per key). */
export function describeIssue(
  issue: z.core.$ZodIssue,
  data: unknown,
  schema: z.ZodType,
): PathProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const { prefix, rest } = contextOf(path);
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, path);
    const where = whereIs(path);
    return issue.keys.map((key) => ({
      code: 'spec.unknown_key',
      message: `unknown key "${key}"${where}${didYouMean(key, known)}`,
      path: [...path, key],
      target: 'key',
    }));
  }
  if (issue.code === 'invalid_union') {
    // When the value has the shape of one option (a list for `run`, a map for an asset) and
    // fails only inside it, what is wrong is inside: say that rather than "must be A or B".
    const inside = issue.errors.find(
      (branch) => branch.length > 0 && branch.every((i) => i.path.length > 0),
    );
    if (inside !== undefined) {
      return inside.flatMap((sub) =>
        describeIssue({ ...sub, path: [...path, ...sub.path] }, data, schema),
      );
    }
  }
  const value = valueAt(data, path);
  const field = rest.length === 0 ? '' : `"${fieldName(rest)}" `;
  if (path.length === 0) {
    const message =
      value === undefined || value === null
        ? 'the flow file is empty: it needs at least "flow" and "tasks"'
        : `the flow file must be a map with at least "flow" and "tasks", got ${describeValue(value)}`;
    return [{ code: 'spec.invalid', message, path, target: 'value' }];
  }
  if (value === undefined) {
    return [
      { code: 'spec.invalid', message: `${prefix}${field}is required`, path, target: 'value' },
    ];
  }
  if (issue.code === 'too_small' && issue.origin === 'array' && Array.isArray(value)) {
    const message = `${prefix}${field}must not be an empty list`;
    return [{ code: 'spec.invalid', message, path, target: 'value' }];
  }
  if (issue.code === 'too_small' && issue.origin === 'string' && value === '') {
    const message = `${prefix}${field}must not be empty`;
    return [{ code: 'spec.invalid', message, path, target: 'value' }];
  }
  let hint = '';
  if (issue.code === 'invalid_value' && typeof value === 'string') {
    hint = didYouMean(value, issue.values.map(String));
  }
  const expected = expectedAt(path) ?? zodExpectation(issue);
  const message = `${prefix}${field}must be ${expected}, got ${describeValue(value)}${hint}`;
  return [{ code: 'spec.invalid', message, path, target: 'value' }];
}

/** A value as a message shows it: strings quoted, lists and maps by kind. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

function whereIs(path: NodePath): string {
  if (path.length === 0) return ' at the top level';
  const [head, name] = path;
  if (head === 'tasks' && path.length === 2) return ` in task "${name}"`;
  if (head === 'params' && path.length === 2) return ` in param "${name}"`;
  const { prefix, rest } = contextOf(path);
  const inside = rest.length === 0 ? prefix.slice(0, -2) : `${prefix}${fieldName(rest)}`;
  return ` in ${inside}`;
}

function expectedAt(path: NodePath): string | undefined {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (typeof last === 'number')
    return typeof parent === 'string' ? EXPECTED[`${parent}.#`] : undefined;
  // Names chosen by the user (a task id, an env variable) are looked up by their parent.
  if (path.length === 2 && (parent === 'tasks' || parent === 'params'))
    return EXPECTED[`${parent}.*`];
  if (parent === 'env' || parent === 'produces') return EXPECTED[`${parent}.*`];
  return last === undefined ? undefined : EXPECTED[last];
}

function zodExpectation(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return `a ${issue.expected}`;
  if (issue.code === 'invalid_value') return `one of ${issue.values.map(String).join(', ')}`;
  return `valid (${issue.message.toLowerCase()})`;
}

function valueAt(data: unknown, path: NodePath): unknown {
  let node = data;
  for (const part of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[part];
  }
  return node;
}

interface LooseDef {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly innerType?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly in?: z.ZodType;
}

/** The keys an object at `path` may have, read from the schema itself. */
function knownKeys(schema: z.ZodType, path: NodePath): string[] {
  const found = objectShapes(schema, path);
  return [...new Set(found.flatMap((shape) => Object.keys(shape)))];
}

function objectShapes(schema: z.ZodType, path: NodePath): Record<string, z.ZodType>[] {
  const def = (schema as unknown as { _zod: { def: LooseDef } })._zod.def;
  const inner = def.innerType ?? def.in;
  if (inner !== undefined) return objectShapes(inner, path);
  if (def.type === 'union') return (def.options ?? []).flatMap((o) => objectShapes(o, path));
  const [part, ...rest] = path;
  if (part === undefined) return def.type === 'object' && def.shape ? [def.shape] : [];
  if (def.type === 'object' && typeof part === 'string') {
    const next = def.shape?.[part];
    return next === undefined ? [] : objectShapes(next, rest);
  }
  if (def.type === 'record' && def.valueType) return objectShapes(def.valueType, rest);
  if (def.type === 'array' && def.element) return objectShapes(def.element, rest);
  return [];
}
