/**
 * A problem found in a flow before it is tied to a file position: it names the place by
 * its path in the document (`['tasks', 'clean', 'retries']`). The loader turns paths into
 * `file:line:col`; a flow built by the SDK can report the path as is.
 */
import type { ErrorCode } from './errors.ts';

/** Keys and list indexes from the document root to a value. */
export type NodePath = readonly (string | number)[];

/** One problem, located by path. */
export interface PathProblem {
  readonly code: ErrorCode;
  readonly message: string;
  readonly path: NodePath;
  /** Point at the key of the last path segment (unknown keys, bad ids) or at its value. */
  readonly target: 'key' | 'value';
  /** For expression problems: 0-based offset into the string value. */
  readonly offset?: number;
}

/** A message prefix naming where a path leads, e.g. `task "clean": ` or `param "region": `. */
export function contextOf(path: NodePath): { prefix: string; rest: NodePath } {
  const [head, name, ...rest] = path;
  if (head === 'tasks' && name !== undefined) return { prefix: `task "${name}": `, rest };
  if (head === 'params' && name !== undefined) return { prefix: `param "${name}": `, rest };
  if (head === 'schedule' && typeof name === 'number') {
    return { prefix: `schedule #${name + 1}: `, rest };
  }
  if (head === 'defaults') return { prefix: 'defaults: ', rest: path.slice(1) };
  return { prefix: '', rest: path };
}

/** A path written for people: `resources.cpu`, `run[1]`, `env.HOME`. */
export function fieldName(path: NodePath): string {
  let out = '';
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}
