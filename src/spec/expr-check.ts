/**
 * Checking the names an expression refers to against what its flow declares, before
 * anything runs: `params.x`, `tasks.y`, `item`, `env`, … Works on the cel-js AST, so
 * names inside string literals or bound by macros (`list.map(x, …)`) are never mistaken
 * for references.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import { ROOT_NAMES, UNIT_CONSTANTS } from './cel-environment.ts';
import { didYouMean } from './suggest.ts';

/** The names a flow declares (structurally the same as `NameScope` in expr.ts). */
export interface NameScope {
  readonly params: readonly string[];
  readonly upstream: readonly string[];
  readonly allTasks: readonly string[];
  readonly inMap: boolean;
  readonly envAllowed: boolean;
}

// Scopes are built once per task and checked once per expression; a task with 10,000
// upstreams must not cost a linear search per reference.
const sets = new WeakMap<readonly string[], ReadonlySet<string>>();
function asSet(names: readonly string[]): ReadonlySet<string> {
  let set = sets.get(names);
  if (set === undefined) {
    set = new Set(names);
    sets.set(names, set);
  }
  return set;
}

// Macros whose first argument names a variable bound in the later arguments.
const BINDING_MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** Problems with the names `ast` refers to, as messages, without duplicates. */
export function nameProblems(ast: ASTNode, scope: NameScope): string[] {
  const problems = new Set<string>();
  walk(ast, new Set(), scope, problems);
  return [...problems];
}

/** The key of `x.key` or `x["key"]` when it is written literally, else undefined. */
function selectedKey(node: ASTNode): string | undefined {
  if (node.op === '.' || node.op === '.?') return node.args[1];
  if ((node.op === '[]' || node.op === '[?]') && node.args[1].op === 'value') {
    const v = node.args[1].args;
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}

function walk(node: ASTNode, bound: ReadonlySet<string>, scope: NameScope, out: Set<string>): void {
  switch (node.op) {
    case 'id':
      if (!bound.has(node.args)) checkRoot(node.args, scope, out);
      return;
    case 'value':
      return;
    case '.':
    case '.?':
    case '[]':
    case '[?]': {
      const target = node.args[0];
      const key = selectedKey(node);
      if (target.op === 'id' && !bound.has(target.args) && key !== undefined) {
        checkMember(target.args, key, scope, out);
      }
      walk(target, bound, scope, out);
      if (node.op === '[]' || node.op === '[?]') walk(node.args[1], bound, scope, out);
      return;
    }
    case 'call':
      for (const arg of node.args[1]) walk(arg, bound, scope, out);
      return;
    case 'rcall': {
      const [name, receiver, args] = node.args;
      const first = args[0];
      const isBind = name === 'bind' && receiver.op === 'id' && receiver.args === 'cel';
      if ((isBind || BINDING_MACROS.has(name)) && first?.op === 'id') {
        const inner = new Set(bound).add(first.args);
        if (isBind) {
          // cel.bind(v, init, body): init is evaluated outside v's scope.
          if (args[1] !== undefined) walk(args[1], bound, scope, out);
          if (args[2] !== undefined) walk(args[2], inner, scope, out);
          return;
        }
        walk(receiver, bound, scope, out);
        for (const arg of args.slice(1)) walk(arg, inner, scope, out);
        return;
      }
      walk(receiver, bound, scope, out);
      for (const arg of args) walk(arg, bound, scope, out);
      return;
    }
    case 'list':
      for (const el of node.args) walk(el, bound, scope, out);
      return;
    case 'map':
      for (const [k, v] of node.args) {
        walk(k, bound, scope, out);
        walk(v, bound, scope, out);
      }
      return;
    case '?:':
      for (const arg of node.args) walk(arg, bound, scope, out);
      return;
    case '!_':
    case '-_':
      walk(node.args, bound, scope, out);
      return;
    default:
      // Binary operators, && and ||.
      walk(node.args[0], bound, scope, out);
      walk(node.args[1], bound, scope, out);
  }
}

function checkRoot(name: string, scope: NameScope, out: Set<string>): void {
  if (name === 'item' || name === 'index') {
    if (!scope.inMap) out.add(`"${name}" is only available in a task with map`);
    return;
  }
  if (name === 'env') {
    if (!scope.envAllowed) out.add('"env" is not available here');
    return;
  }
  if ((ROOT_NAMES as readonly string[]).includes(name) || name in UNIT_CONSTANTS || name === 'cel')
    return;
  out.add(`unknown name "${name}" (available: ${ROOT_NAMES.join(', ')})`);
}

/** The keys of `run` (the scheduler's `runContext` builds it). */
export const RUN_KEYS = [
  'id',
  'flow',
  'date',
  'logical_date',
  'interval_start',
  'interval_end',
  'timezone',
  'trigger',
] as const;

function checkMember(root: string, key: string, scope: NameScope, out: Set<string>): void {
  if (root === 'run' && !(RUN_KEYS as readonly string[]).includes(key)) {
    out.add(
      `unknown name "run.${key}"${didYouMean(key, RUN_KEYS)} (run has: ${RUN_KEYS.join(', ')})`,
    );
  } else if (root === 'params' && !asSet(scope.params).has(key)) {
    out.add(`unknown parameter "params.${key}"${didYouMean(key, scope.params)}`);
  } else if (root === 'tasks' && !asSet(scope.upstream).has(key)) {
    out.add(
      asSet(scope.allTasks).has(key)
        ? `"tasks.${key}" is not upstream of this task (add it to needs)`
        : `unknown task "tasks.${key}"`,
    );
  }
}
