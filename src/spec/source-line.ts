/**
 * Where a field of a stored flow is written, for errors found while a run runs (an
 * expression that fails on the data it meets): `flows/sales.yaml:14`. The positioned YAML
 * parse is slow on big files, so it happens only when such an error is reported, once
 * per source text.
 */
import type { NodePath } from './path-problem.ts';
import { yamlLib } from './yaml-lib.ts';
import { YamlLocator } from './yaml-locator.ts';

const CACHE_LIMIT = 8;
const locators = new Map<string, YamlLocator | null>();

function locatorOf(source: string): YamlLocator | null {
  let locator = locators.get(source);
  if (locator !== undefined) return locator;
  try {
    const { LineCounter, parseDocument } = yamlLib();
    const lineCounter = new LineCounter();
    const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: false });
    locator = doc.errors.length > 0 ? null : new YamlLocator(doc.contents, lineCounter, source);
  } catch {
    locator = null; // not YAML (a TypeScript flow's source): no line to give
  }
  if (locators.size >= CACHE_LIMIT) locators.clear();
  locators.set(source, locator);
  return locator;
}

/**
 * `path:line` of the value at `fieldPath` in a YAML flow's source, or just `path` when
 * the source is not YAML (an SDK flow).
 */
export function sourceLocation(path: string, source: string, fieldPath: NodePath): string {
  const locator = locatorOf(source);
  if (locator === null) return path;
  return `${path}:${locator.locate(fieldPath, 'value').line}`;
}

/** The document path of a task field as the scheduler names it (`resources.memory`, `run[0]`). */
export function taskFieldPath(taskId: string, field: string): NodePath {
  const path: (string | number)[] = ['tasks', taskId];
  const produces = /^produces\.(.+)\.(path|partition)$/.exec(field);
  if (produces) return [...path, 'produces', produces[1] as string, produces[2] as string];
  for (const part of field.split('.')) {
    const indexed = /^([^[]+)\[(\d+)\]$/.exec(part);
    if (indexed) path.push(indexed[1] as string, Number(indexed[2]));
    else path.push(part);
  }
  return path;
}
