/**
 * Checks every `${{ … }}` in a flow before anything runs: syntax, and that each name it
 * uses exists where the expression is evaluated (parameters, upstream tasks, `item` only
 * inside a map).
 */
import { checkExpression, checkTemplate, type ExprScope } from './expr.ts';
import { fieldName, type NodePath, type PathProblem } from './path-problem.ts';
import { soleTemplate } from './template.ts';

/** An expression field (`if`, `map`) as written: bare, or as exactly one `${{ … }}`. */
export interface UnwrappedExpression {
  readonly expr: string;
  /** Where `expr` starts in the written text. */
  readonly offset: number;
}

/**
 * Reads an expression field. `if: params.full` and `if: ${{ params.full }}` mean the same;
 * undefined when the text mixes literal text and templates, which is no single expression.
 */
export function unwrapExpression(text: string): UnwrappedExpression | undefined {
  const sole = soleTemplate(text);
  if (sole !== undefined)
    return { expr: sole.expr, offset: text.indexOf(sole.expr, sole.start + 3) };
  return text.includes('${{') ? undefined : { expr: text, offset: 0 };
}

// `tasks.extract` or `tasks["my-task"]`: enough to find which task ids an expression names.
const TASK_MENTION = /\btasks\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([^"']+)["']\s*\])/g;

/** What a flow's expressions may refer to, gathered once for the whole flow. */
export interface FlowNames {
  readonly params: readonly string[];
  readonly allTasks: readonly string[];
  /** Whether `ancestor` is a transitive upstream of task `id`. */
  readonly isUpstream: (id: string, ancestor: string) => boolean;
}

/** Checks the templates and expressions of one task (`path` is `['tasks', id]`). */
export function checkTaskExpressions(
  task: Readonly<Record<string, unknown>>,
  path: NodePath,
  names: FlowNames,
): PathProblem[] {
  const fields = templateFields(task);
  const expressions: [NodePath, string][] = [];
  const id = String(path[path.length - 1]);
  const prefix = path[0] === 'tasks' ? `task "${id}": ` : 'defaults: ';
  const problems: PathProblem[] = [];
  for (const key of ['if', 'map'] as const) {
    const text = task[key];
    if (typeof text !== 'string') continue;
    const unwrapped = unwrapExpression(text);
    if (unwrapped === undefined) {
      problems.push({
        code: 'spec.expression',
        message: `${prefix}"${key}" must be one expression, written bare or as one "\${{ … }}"`,
        path: [...path, key],
        target: 'value',
      });
    } else {
      expressions.push([[key], text]);
    }
  }
  // Only the upstream tasks the expressions name: the full transitive upstream of every
  // task is quadratic (17 s for 10,000 tasks in 100 layers) and the checker needs no more.
  const mentioned = new Set<string>();
  for (const [, text] of [...fields, ...expressions]) {
    for (const m of text.matchAll(TASK_MENTION)) mentioned.add(m[1] ?? m[2] ?? '');
  }
  const upstream =
    path[0] === 'tasks' ? [...mentioned].filter((other) => names.isUpstream(id, other)) : [];
  const base = { params: names.params, allTasks: names.allTasks, upstream, envAllowed: false };
  const inMap: ExprScope = { ...base, inMap: task.map !== undefined && path[0] === 'tasks' };
  // The map expression itself runs before there is an item.
  const outsideMap: ExprScope = { ...base, inMap: false };
  const report = (field: NodePath, message: string, offset: number): void => {
    problems.push({
      code: 'spec.expression',
      message: `${prefix}${fieldName(field)}: ${message}`,
      path: [...path, ...field],
      target: 'value',
      offset,
    });
  };
  for (const [field, text] of fields) {
    for (const p of checkTemplate(text, inMap)) report(field, p.message, p.offset);
  }
  for (const [field, text] of expressions) {
    const unwrapped = unwrapExpression(text)!;
    const scope = field[0] === 'map' ? outsideMap : inMap;
    for (const p of checkExpression(unwrapped.expr, scope)) {
      report(field, p.message, unwrapped.offset + p.offset);
    }
  }
  return problems;
}

// Every string that may hold `${{ … }}`, with its path inside the task.
function templateFields(task: Readonly<Record<string, unknown>>): [NodePath, string][] {
  const out: [NodePath, string][] = [];
  const add = (field: NodePath, value: unknown): void => {
    if (typeof value === 'string') out.push([field, value]);
  };
  if (Array.isArray(task.run)) {
    for (const [i, arg] of task.run.entries()) add(['run', i], arg);
  } else {
    add(['run'], task.run);
  }
  for (const [name, value] of entries(task.env)) add(['env', name], value);
  add(['workdir'], task.workdir);
  add(['timeout'], task.timeout);
  add(['max_parallel'], task.max_parallel);
  for (const [name, value] of entries(task.resources)) {
    if (name === 'cpu' || name === 'memory') add(['resources', name], value);
  }
  for (const [key, value] of entries(task.produces)) {
    if (!isRecord(value)) continue;
    add(['produces', key, 'path'], value.path);
    add(['produces', key, 'partition'], value.partition);
  }
  if (isRecord(task.cache)) add(['cache', 'key'], task.cache.key);
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function entries(value: unknown): [string, unknown][] {
  return isRecord(value) ? Object.entries(value) : [];
}
