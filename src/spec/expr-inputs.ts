/**
 * What an expression read: the context values (`assets.raw_sales.bytes`,
 * `tasks.extract.outputs.regions`, `params.top`, `attempt`, …) it refers to, with their
 * values, so a decision can be shown with its reasons ("memory 3 GiB because
 * assets.raw_sales.bytes = 1.0 GiB"). Found on the AST, as the name checks are.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import { parseExpression, ROOT_NAMES } from './cel-environment.ts';
import { type ExprContext, evaluateExpression } from './expr.ts';
import { findTemplates } from './template.ts';

const ROOTS: ReadonlySet<string> = new Set(ROOT_NAMES);
const BINDING_MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A value longer than this (as JSON) is recorded as a summary: inputs explain, not copy. */
const MAX_VALUE_CHARS = 200;

/**
 * The references of every `${{ }}` in `text` (or of a bare expression), each with its
 * value in `ctx`. References that do not evaluate (a missing key) are left out: the
 * expression's own error says what is missing.
 */
export function expressionInputs(text: string, ctx: ExprContext): Record<string, unknown> {
  const exprs = text.includes('${{')
    ? findTemplates(text)
        .filter((s) => s.closed)
        .map((s) => s.expr)
    : [text.trim()];
  const inputs: Record<string, unknown> = {};
  for (const expr of exprs) {
    for (const ref of references(expr)) {
      if (ref in inputs) continue;
      try {
        inputs[ref] = summarise(evaluateExpression(ref, ctx));
      } catch {
        // Unreadable here: not an input worth showing.
      }
    }
  }
  return inputs;
}

/** The maximal context paths an expression refers to, in order of appearance. */
export function references(expr: string): string[] {
  const parsed = parseExpression(expr);
  if (!parsed.ok) return [];
  const out = new Set<string>();
  walk(parsed.program.ast, new Set(), out);
  return [...out];
}

function summarise(value: unknown): unknown {
  const json = JSON.stringify(value);
  if (json === undefined || json.length <= MAX_VALUE_CHARS) return value;
  if (Array.isArray(value)) return `[a list of ${value.length}]`;
  if (typeof value === 'string') return `${value.slice(0, MAX_VALUE_CHARS - 3)}...`;
  return `{a map of ${Object.keys(value as object).length} keys}`;
}

/** `assets.raw_sales.bytes` for a chain of literal selections on a context name. */
function chainOf(node: ASTNode, bound: ReadonlySet<string>): string | undefined {
  if (node.op === 'id')
    return ROOTS.has(node.args) && !bound.has(node.args) ? node.args : undefined;
  let key: unknown;
  if (node.op === '.') key = node.args[1];
  else if (node.op === '[]' && node.args[1].op === 'value') key = node.args[1].args;
  else return undefined;
  const target = chainOf(node.args[0], bound);
  if (target === undefined) return undefined;
  if (typeof key === 'string')
    return IDENTIFIER.test(key) ? `${target}.${key}` : `${target}[${JSON.stringify(key)}]`;
  if (typeof key === 'bigint' || typeof key === 'number') return `${target}[${key}]`;
  return undefined;
}

function walk(node: ASTNode, bound: ReadonlySet<string>, out: Set<string>): void {
  const chain = chainOf(node, bound);
  if (chain !== undefined) {
    out.add(chain);
    return;
  }
  switch (node.op) {
    case 'id':
    case 'value':
      return;
    case '.':
    case '.?':
      walk(node.args[0], bound, out);
      return;
    case '[]':
    case '[?]':
      walk(node.args[0], bound, out);
      walk(node.args[1], bound, out);
      return;
    case 'call':
      for (const arg of node.args[1]) walk(arg, bound, out);
      return;
    case 'rcall': {
      const [name, receiver, args] = node.args;
      const first = args[0];
      if (BINDING_MACROS.has(name) && first?.op === 'id') {
        const inner = new Set(bound).add(first.args);
        walk(receiver, bound, out);
        for (const arg of args.slice(1)) walk(arg, inner, out);
        return;
      }
      walk(receiver, bound, out);
      for (const arg of args) walk(arg, bound, out);
      return;
    }
    case 'list':
      for (const el of node.args) walk(el, bound, out);
      return;
    case 'map':
      for (const [k, v] of node.args) {
        walk(k, bound, out);
        walk(v, bound, out);
      }
      return;
    case '?:':
      for (const arg of node.args) walk(arg, bound, out);
      return;
    case '!_':
    case '-_':
      walk(node.args, bound, out);
      return;
    default:
      walk(node.args[0], bound, out);
      walk(node.args[1], bound, out);
  }
}
