/**
 * The CEL environment every `${{ … }}` runs in: Baton's context variables, unit
 * constants, and the functions users reach for that CEL lacks.
 *
 * Numbers: CEL keeps ints (BigInt) and doubles apart and refuses `2 * 1.5`. Users write
 * `bytes * 1.5` and `max(256 * MiB, x / 2.0)` and expect arithmetic, so mixed operators
 * are registered here: an int meeting a double is widened to a double (as JavaScript,
 * Python and SQL do). `int / int` stays integer division, truncating, as CEL defines it;
 * write `x / 2.0` or `double(x) / 2` for a fraction.
 */
import type { Environment, ParseResult } from '@marcbachmann/cel-js';
import { celLib } from './cel-lib.ts';
import { toJsonValue } from './cel-values.ts';
import { ExpressionError } from './errors.ts';

/** Names an expression may use at its root, in the order error messages list them. */
export const ROOT_NAMES = [
  'params',
  'run',
  'tasks',
  'assets',
  'item',
  'index',
  'attempt',
  'last_failure',
] as const;

/** Unit constants: sizes in bytes, durations in milliseconds, all ints. */
export const UNIT_CONSTANTS: Readonly<Record<string, bigint>> = {
  KiB: 1024n,
  MiB: 1024n ** 2n,
  GiB: 1024n ** 3n,
  TiB: 1024n ** 4n,
  s: 1000n,
  m: 60_000n,
  h: 3_600_000n,
};

// Most call sites pass 2 or 3 numbers; a list form covers anything longer.
const MAX_VARIADIC = 8;

type CelNumber = bigint | number;

function asNumber(fn: string, v: unknown): CelNumber {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  throw new ExpressionError(
    `${fn}() takes numbers, got ${typeof v === 'string' ? 'a string' : typeof v}`,
  );
}

function pick(fn: 'max' | 'min', values: readonly unknown[]): CelNumber {
  if (values.length === 0) throw new ExpressionError(`${fn}() of an empty list`);
  let best = asNumber(fn, values[0]);
  for (const v of values.slice(1)) {
    const n = asNumber(fn, v);
    // JS compares BigInt with number exactly, so mixed int/double needs no conversion.
    if (fn === 'max' ? n > best : n < best) best = n;
  }
  return best;
}

function toInt(fn: string, v: number): bigint {
  if (!Number.isFinite(v)) throw new ExpressionError(`${fn}() of ${v}`);
  return BigInt(v);
}

function createEnvironment(): Environment {
  const env = new (celLib().Environment)({ homogeneousAggregateLiterals: false })
    .registerVariable('params', 'map')
    .registerVariable('run', 'map')
    .registerVariable('tasks', 'map')
    .registerVariable('assets', 'map')
    .registerVariable('item', 'dyn')
    .registerVariable('index', 'int')
    .registerVariable('attempt', 'int')
    // Why the previous attempt failed (`oom_killed`, `timeout`, `exit_code`, …); "" on the first.
    .registerVariable('last_failure', 'string')
    .registerVariable('env', 'map');
  for (const [name, value] of Object.entries(UNIT_CONSTANTS))
    env.registerConstant(name, 'int', value);

  const arith = {
    '+': (a: number, b: number) => a + b,
    '-': (a: number, b: number) => a - b,
    '*': (a: number, b: number) => a * b,
    '/': (a: number, b: number) => a / b,
  };
  for (const [op, f] of Object.entries(arith)) {
    env.registerOperator(`int ${op} double`, (a: bigint, b: number) => f(Number(a), b));
    env.registerOperator(`double ${op} int`, (a: number, b: bigint) => f(a, Number(b)));
  }
  // `<`, `>` already compare int with double; equality of literals needs this
  // (cel-js registers the mirrored `double == int` and `!=` itself).
  env.registerOperator('int == double', (a: bigint, b: number) => Number(a) === b);

  for (const fn of ['max', 'min'] as const) {
    for (let n = 2; n <= MAX_VARIADIC; n++) {
      const params = Array.from({ length: n }, () => 'dyn').join(', ');
      env.registerFunction(`${fn}(${params}): dyn`, (...args: unknown[]) => pick(fn, args));
    }
    // One argument: a list to pick from (`max(sizes)`), or a lone number.
    env.registerFunction(`${fn}(dyn): dyn`, (v: unknown) => pick(fn, Array.isArray(v) ? v : [v]));
  }
  const rounding = { ceil: Math.ceil, floor: Math.floor, round: Math.round };
  for (const [fn, f] of Object.entries(rounding)) {
    env.registerFunction(`${fn}(double): int`, (v: number) => toInt(fn, f(v)));
    env.registerFunction(`${fn}(int): int`, (v: bigint) => v);
  }
  env.registerFunction('range(int): list<int>', (n: bigint) => {
    // A fan-out bigger than this is a mistake in the expression, not a plan.
    if (n > 1_000_000n) throw new ExpressionError(`range(${n}) is too long (at most 1000000)`);
    return Array.from({ length: Number(n < 0n ? 0n : n) }, (_, i) => BigInt(i));
  });
  // string() of a list or map renders JSON, the same text a template would show.
  env.registerFunction('string(list): string', (v: unknown) =>
    JSON.stringify(toJsonValue(v, 'string()')),
  );
  env.registerFunction('string(map): string', (v: unknown) =>
    JSON.stringify(toJsonValue(v, 'string()')),
  );
  return env;
}

let shared: Environment | undefined;

/**
 * The shared environment (building one is expensive; it is immutable once built), made
 * when the first expression is parsed.
 */
export function celEnvironment(): Environment {
  shared ??= createEnvironment();
  return shared;
}

/** What parsing an expression gave: the callable program, or the parser's complaint. */
export type ParsedExpression =
  | { readonly ok: true; readonly program: ParseResult }
  | { readonly ok: false; readonly message: string };

// Flows repeat expressions (`${{ run.date }}` in every task); parsing each distinct text
// once keeps a 10,000-task flow's validation in milliseconds. Bounded so a long-lived
// scheduler seeing many flow versions does not grow without end.
const PARSE_CACHE_LIMIT = 20_000;
const parseCache = new Map<string, ParsedExpression>();

/** Parses `expr` with the shared environment, cached by text. Never throws. */
export function parseExpression(expr: string): ParsedExpression {
  let parsed = parseCache.get(expr);
  if (parsed !== undefined) return parsed;
  try {
    parsed = { ok: true, program: celEnvironment().parse(expr) };
  } catch (e) {
    parsed = { ok: false, message: celMessage(e) };
  }
  if (parseCache.size >= PARSE_CACHE_LIMIT) parseCache.clear();
  parseCache.set(expr, parsed);
  return parsed;
}

/**
 * The first line of a cel-js error: its messages append a source excerpt with a caret,
 * which reads badly inside ours (we name the expression ourselves).
 */
export function celMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const summary = (e as { summary?: unknown }).summary;
  const text = typeof summary === 'string' && summary !== '' ? summary : e.message;
  return text.split('\n')[0] ?? text;
}
