/**
 * `${{ … }}` expressions (CEL) and the templates that hold them.
 *
 * The pieces live next door: template.ts finds the `${{ }}`, cel-environment.ts is the
 * CEL environment (variables, units, functions, mixed int/double arithmetic),
 * cel-values.ts moves values between JSON and CEL, expr-check.ts checks names and
 * shell-quote.ts quotes values for the shell context they land in.
 */
import { celMessage, parseExpression } from './cel-environment.ts';
import { celLib } from './cel-lib.ts';
import { toCelValue, toJsonValue } from './cel-values.ts';
import { ExpressionError } from './errors.ts';
import { nameProblems } from './expr-check.ts';
import { quoteForShell, shellContexts, unquotableReason } from './shell-quote.ts';
import { findTemplates, soleTemplate, type TemplateSegment } from './template.ts';

/** What an expression can see. JSON values; integers are numbers here and become CEL ints inside. */
export interface ExprContext {
  readonly params: Readonly<Record<string, unknown>>;
  readonly run: Readonly<Record<string, unknown>>;
  /** `tasks.<id>.outputs`: for a mapped task, a list of its items' outputs in map-index order. */
  readonly tasks: Readonly<Record<string, { readonly outputs: unknown }>>;
  readonly assets: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly item?: unknown;
  readonly index?: number;
  readonly attempt?: number;
  /**
   * `last_failure`: the reason the previous attempt failed (`oom_killed`, `timeout`,
   * `exit_code`, `lost`, …), the empty string on the first attempt.
   */
  readonly lastFailure?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** The names a flow may refer to, for checking expressions before anything runs. */
export interface ExprScope {
  readonly params: readonly string[];
  /** Task ids whose outputs this expression may use (the task's transitive upstreams). */
  readonly upstream: readonly string[];
  /** Every task id in the flow (to say "not upstream" rather than "unknown"). */
  readonly allTasks: readonly string[];
  readonly inMap: boolean;
  readonly envAllowed: boolean;
}

/** A problem in one expression; `offset` is the 0-based offset into the template text. */
export interface ExprProblem {
  readonly offset: number;
  readonly message: string;
}

/** True if the text contains a `${{ … }}`. */
export function hasTemplate(text: string): boolean {
  return text.includes('${{');
}

/**
 * Checks every `${{ }}` of a template (syntax and names). Returns problems, empty when
 * fine; each problem's offset is where its `${{` starts.
 */
export function checkTemplate(text: string, scope: ExprScope): ExprProblem[] {
  const problems: ExprProblem[] = [];
  for (const segment of findTemplates(text)) {
    if (!segment.closed) {
      problems.push({
        offset: segment.start,
        message: `invalid expression "${segment.expr}": missing "}}"`,
      });
      continue;
    }
    for (const message of checkOne(segment.expr, scope))
      problems.push({ offset: segment.start, message });
  }
  return problems;
}

/**
 * Checks a bare expression (as in `if:`), same rules; offsets are 0. A value written as
 * one `${{ e }}` is accepted too and checked as `e`.
 */
export function checkExpression(expr: string, scope: ExprScope): ExprProblem[] {
  return checkOne(unwrap(expr), scope).map((message) => ({ offset: 0, message }));
}

/**
 * Evaluates a bare expression to a JSON value (CEL ints come back as numbers). A value
 * written as one `${{ e }}` evaluates as `e`.
 */
export function evaluateExpression(expr: string, ctx: ExprContext): unknown {
  const inner = unwrap(expr);
  const label = inner === expr.trim() ? `expression "${inner}"` : `\${{ ${inner} }}`;
  return evaluate(inner, ctx, label);
}

/**
 * Evaluates a template to a value: a template that is exactly one `${{ e }}` yields e's
 * value as is (a list stays a list); anything else yields the rendered string.
 */
export function evaluateTemplate(text: string, ctx: ExprContext): unknown {
  const sole = soleTemplate(text);
  if (sole !== undefined) return evaluate(sole.expr, ctx, labelOf(sole));
  return renderText(text, ctx);
}

/**
 * Renders a template as plain text (env values, argv items, paths): strings as they
 * are, numbers and booleans as text, null as nothing, lists and maps as JSON.
 */
export function renderText(text: string, ctx: ExprContext): string {
  return substitute(text, findTemplates(text), ctx, (value) => value);
}

/**
 * Renders a template into a `/bin/sh -c` script: each substituted value is quoted for the
 * shell context its `${{ }}` sits in (bare word, inside "…", inside '…'), so it stays
 * literal whatever it holds. Throws ExpressionError for a value no quoting can carry
 * (a NUL byte) or a place the quoting cannot be sure of (see shell-quote.ts).
 */
export function renderShell(script: string, ctx: ExprContext): string {
  const segments = findTemplates(script);
  const contexts = shellContexts(script, segments);
  return substitute(script, segments, ctx, (value, k, segment) => {
    const context = contexts[k] ?? { kind: 'refuse', reason: 'no shell context' };
    const reason = unquotableReason(value, context);
    if (reason !== undefined) {
      throw new ExpressionError(`${labelOf(segment)}: ${reason}`, {
        expression: segment.expr,
        offset: segment.start,
      });
    }
    return quoteForShell(value, context);
  });
}

/** Replaces each segment by its rendered (and, for the shell, quoted) value. */
function substitute(
  text: string,
  segments: readonly TemplateSegment[],
  ctx: ExprContext,
  quote: (value: string, k: number, segment: TemplateSegment) => string,
): string {
  if (segments.length === 0) return text;
  let out = '';
  let at = 0;
  segments.forEach((segment, k) => {
    if (!segment.closed) {
      throw new ExpressionError(`invalid expression "${segment.expr}": missing "}}"`, {
        expression: segment.expr,
        offset: segment.start,
      });
    }
    const value = evaluate(segment.expr, ctx, labelOf(segment));
    out += text.slice(at, segment.start) + quote(asText(value), k, segment);
    at = segment.end;
  });
  return out + text.slice(at);
}

function labelOf(segment: TemplateSegment): string {
  return `\${{ ${segment.expr} }}`;
}

/** The expression inside a value written as exactly one `${{ e }}`, else the value. */
function unwrap(expr: string): string {
  return soleTemplate(expr)?.expr ?? expr.trim();
}

/** How a JSON value reads inside text. */
function asText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function checkOne(expr: string, scope: ExprScope): string[] {
  const parsed = parseExpression(expr);
  if (!parsed.ok) return [`invalid expression "${expr}": ${parsed.message}`];
  return nameProblems(parsed.program.ast, scope);
}

/**
 * The CEL view of a context. `params`, `run`, `item` and every entry of `tasks` and
 * `assets` are immutable once handed over, so their conversions are cached by identity;
 * the `tasks` and `assets` maps themselves grow while a run progresses (the scheduler adds
 * an entry as each task finishes), so they are re-assembled, shallowly, on each call.
 */
function celContextOf(ctx: ExprContext): Record<string, unknown> {
  const cel: Record<string, unknown> = {
    params: toCelValue(ctx.params),
    run: toCelValue(ctx.run),
    tasks: shallow(ctx.tasks),
    assets: shallow(ctx.assets),
  };
  // Absent names stay absent, so using one is reported as such, not as null.
  if (ctx.item !== undefined) cel.item = toCelValue(ctx.item);
  if (ctx.index !== undefined) cel.index = toCelValue(ctx.index);
  if (ctx.attempt !== undefined) cel.attempt = toCelValue(ctx.attempt);
  if (ctx.lastFailure !== undefined) cel.last_failure = ctx.lastFailure;
  if (ctx.env !== undefined) cel.env = toCelValue(ctx.env);
  return cel;
}

function shallow(map: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const key in map) out[key] = toCelValue(map[key]);
  return out;
}

function evaluate(expr: string, ctx: ExprContext, label: string): unknown {
  const parsed = parseExpression(expr);
  if (!parsed.ok)
    throw new ExpressionError(`invalid expression "${expr}": ${parsed.message}`, {
      expression: expr,
    });
  const cel = celContextOf(ctx);
  let result: unknown;
  try {
    result = parsed.program(cel);
  } catch (e) {
    throw new ExpressionError(`${label}: ${explain(e, cel)}`, { expression: expr }, { cause: e });
  }
  return toJsonValue(result, label);
}

/** What went wrong, in the user's terms where we can tell. */
function explain(e: unknown, cel: Record<string, unknown>): string {
  if (e instanceof ExpressionError) return e.message;
  if (!(e instanceof celLib().EvaluationError) || e.node === undefined) return celMessage(e);
  const node = e.node;
  if (e.code === 'unknown_variable' && node.op === 'id') {
    const name = node.args;
    if (name === 'item' || name === 'index')
      return `"${name}" is only available in a task with map`;
    if (name === 'env') return '"env" is not available here';
    return `unknown name "${name}"`;
  }
  if (e.code === 'no_such_key' && (node.op === '.' || node.op === '[]')) {
    const receiver = celLib().serialize(node.args[0]);
    const key = node.op === '.' ? node.args[1] : undefined;
    const missing = key ?? celMessage(e).replace(/^No such key: /, '');
    const keys = keysOf(receiver, cel);
    if (keys !== undefined) {
      const known = keys.length === 0 ? 'it is empty' : `keys: ${keys.join(', ')}`;
      return `${receiver} has no key "${missing}" (${known})`;
    }
    return `${receiver} has no key "${missing}"`;
  }
  return celMessage(e);
}

/** The keys of the map `receiver` evaluates to, or undefined if that fails. */
function keysOf(receiver: string, cel: Record<string, unknown>): string[] | undefined {
  const parsed = parseExpression(receiver);
  if (!parsed.ok) return undefined;
  try {
    const value: unknown = parsed.program(cel);
    if (value instanceof Map) return [...value.keys()].map(String);
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      return Object.keys(value);
  } catch {
    // The receiver itself fails: the caller reports without keys.
  }
  return undefined;
}
