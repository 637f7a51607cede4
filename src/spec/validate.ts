/**
 * Checks that need the whole flow rather than one key: ids, `needs` and cycles, cron and
 * time zones, parameter defaults against their types, asset keys and expressions.
 *
 * It runs on the document as parsed, even when the schema found problems, so one pass of
 * `baton validate` shows everything; values of the wrong type were reported by the schema
 * and are skipped here.
 */
import { checkTaskExpressions, type FlowNames } from './check-expressions.ts';
import { cronJob } from './cron.ts';
import { describeValue } from './describe-issue.ts';
import type { NodePath, PathProblem } from './path-problem.ts';
import { ID_PATTERN } from './schema.ts';
import { didYouMean } from './suggest.ts';
import { orderTasks } from './task-order.ts';
import { parseZonedTime, startOfNextLocalDay } from './zoned-time.ts';

/** Asset keys: lower-case, start with a letter, then letters, digits, `_`, `.`, `/`, `-`. */
export const ASSET_KEY_PATTERN = /^[a-z][a-z0-9_./-]*$/;
/** Parameter names are written `params.<name>` in expressions, so they are identifiers. */
export const PARAM_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Environment variable names as POSIX shells accept them. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ID_RULE = 'use lower-case letters, digits, "_" and "-", starting with a letter';
const PARAM_TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  int: 'an integer',
  number: 'a number',
  bool: 'true or false',
  list: 'a list',
  map: 'a map',
};

/** The outcome of the document checks: problems, and the task order when there is one. */
export interface FlowCheck {
  readonly problems: PathProblem[];
  /** Task ids, each after its needs (meaningful only when there are no problems). */
  readonly order: string[];
}

/** Runs every document-level check on a parsed (not yet schema-validated) flow. */
export function validateFlow(doc: unknown): FlowCheck {
  const problems: PathProblem[] = [];
  if (!isRecord(doc)) return { problems, order: [] };
  const add = (
    path: NodePath,
    message: string,
    code: PathProblem['code'] = 'spec.invalid',
    target: 'key' | 'value' = 'value',
  ) => problems.push({ code, message, path, target });

  if (typeof doc.flow === 'string' && !ID_PATTERN.test(doc.flow)) {
    add(['flow'], `flow name "${doc.flow}" is not allowed: ${ID_RULE}`);
  }
  const zone = checkSchedules(doc.schedule, add);
  checkScheduleDates(doc, zone, add);
  const params = isRecord(doc.params) ? doc.params : {};
  for (const [name, param] of Object.entries(params)) checkParam(name, param, add);

  const tasks = isRecord(doc.tasks) ? doc.tasks : {};
  const ids = Object.keys(tasks);
  if (isRecord(doc.tasks) && ids.length === 0)
    add(['tasks'], '"tasks" must have at least one task');
  const known = new Set(ids);
  const needsById = new Map<string, string[]>();
  for (const id of ids) {
    if (!ID_PATTERN.test(id))
      add(['tasks', id], `task id "${id}" is not allowed: ${ID_RULE}`, 'spec.invalid', 'key');
    const task = tasks[id];
    const needs: string[] = [];
    needsById.set(id, needs);
    if (!isRecord(task)) continue;
    strings(task.needs).forEach(([need, i]) => {
      if (need === id) add(['tasks', id, 'needs', i], `task "${id}" needs itself`, 'spec.cycle');
      else if (known.has(need)) needs.push(need);
      else {
        const hint = didYouMean(need, ids);
        add(
          ['tasks', id, 'needs', i],
          `task "${id}" needs unknown task "${need}"${hint}`,
          'spec.unknown_task',
        );
      }
    });
    checkTaskShape(id, task, add);
  }

  const { order, cycles } = orderTasks(ids, (id) => needsById.get(id) ?? []);
  for (const cycle of cycles) {
    const first = cycle[0]!;
    const before = cycle[cycle.length - 1]!;
    const at = strings((tasks[first] as Record<string, unknown>).needs).find(([n]) => n === before);
    const named = [...cycle, first].join(' -> ');
    add(
      ['tasks', first, 'needs', at?.[1] ?? 0],
      `tasks form a cycle: ${named} (each needs the one before it)`,
      'spec.cycle',
    );
  }

  checkAssetTriggers(doc.on, tasks, add);

  const names: FlowNames = {
    params: Object.keys(params),
    allTasks: ids,
    isUpstream: (id, ancestor) => isUpstream(id, ancestor, needsById),
  };
  if (isRecord(doc.defaults))
    problems.push(...checkTaskExpressions(doc.defaults, ['defaults'], names));
  for (const id of ids) {
    const task = tasks[id];
    if (isRecord(task)) problems.push(...checkTaskExpressions(task, ['tasks', id], names));
  }
  return { problems, order };
}

type Add = (
  path: NodePath,
  message: string,
  code?: PathProblem['code'],
  target?: 'key' | 'value',
) => void;

/** Checks every schedule entry; returns the zone dates are read in (the first entry's). */
function checkSchedules(schedule: unknown, add: Add): string | undefined {
  if (!Array.isArray(schedule)) return 'UTC';
  let first: string | undefined;
  schedule.forEach((entry, i) => {
    if (!isRecord(entry)) return;
    const where = `schedule #${i + 1}: `;
    let timezone: string | undefined;
    if (typeof entry.timezone === 'string') {
      try {
        new Intl.DateTimeFormat(undefined, { timeZone: entry.timezone });
        timezone = entry.timezone;
        if (i === 0) first = entry.timezone;
      } catch {
        const hint = didYouMean(entry.timezone, Intl.supportedValuesOf('timeZone'));
        add(['schedule', i, 'timezone'], `${where}unknown time zone "${entry.timezone}"${hint}`);
      }
    }
    if (i === 0 && entry.timezone === undefined) first = 'UTC';
    if (typeof entry.cron === 'string') {
      try {
        cronJob(entry.cron, timezone ?? 'UTC');
      } catch (error) {
        const reason = String((error as Error).message).replace(/^CronPattern: /, '');
        const said = reason.charAt(0).toLowerCase() + reason.slice(1);
        add(['schedule', i, 'cron'], `${where}invalid cron "${entry.cron}": ${said}`);
      }
    }
  });
  return schedule.length === 0 ? 'UTC' : first;
}

/** `start_date` and `end_date`: real local times in the schedule's zone, in order. */
function checkScheduleDates(doc: Record<string, unknown>, zone: string | undefined, add: Add) {
  if (zone === undefined) return; // the zone is wrong, reported already
  const read = (key: 'start_date' | 'end_date') => {
    const text = doc[key];
    if (typeof text !== 'string') return undefined;
    try {
      return parseZonedTime(text, zone, key);
    } catch (e) {
      add([key], (e as Error).message);
      return undefined;
    }
  };
  const start = read('start_date');
  const end = read('end_date');
  const last = end && (end.dateOnly ? startOfNextLocalDay(end.ms, zone) - 1 : end.ms);
  if (start && last !== undefined && last < start.ms)
    add(['end_date'], `end_date "${doc.end_date}" is before start_date "${doc.start_date}"`);
}

function checkParam(name: string, param: unknown, add: Add): void {
  const where = `param "${name}": `;
  if (!PARAM_NAME_PATTERN.test(name)) {
    add(
      ['params', name],
      `param name "${name}" is not allowed: use letters, digits and "_", not starting with a digit (it is written params.${name} in expressions)`,
      'spec.param',
      'key',
    );
  }
  if (!isRecord(param)) return;
  const type = param.type ?? 'string';
  if (typeof type !== 'string' || !(type in PARAM_TYPE_NAMES)) return;
  const enumValues = Array.isArray(param.enum) ? param.enum : undefined;
  if (enumValues !== undefined && (type === 'list' || type === 'map')) {
    add(
      ['params', name, 'enum'],
      `${where}"enum" is only for string, int, number and bool params`,
      'spec.param',
      'key',
    );
    return;
  }
  enumValues?.forEach((value, i) => {
    if (!fitsType(value, type)) {
      add(
        ['params', name, 'enum', i],
        `${where}enum value must be ${PARAM_TYPE_NAMES[type]}, got ${describeValue(value)}`,
        'spec.param',
      );
    }
  });
  if (!('default' in param) || param.default === undefined) return;
  const value = param.default;
  if (!fitsType(value, type)) {
    add(
      ['params', name, 'default'],
      `${where}default must be ${PARAM_TYPE_NAMES[type]} (type ${type}), got ${describeValue(value)}`,
      'spec.param',
    );
  } else if (enumValues !== undefined && !enumValues.includes(value)) {
    const choices = enumValues.map((v) => String(v)).join(', ');
    add(
      ['params', name, 'default'],
      `${where}default ${describeValue(value)} is not one of ${choices}`,
      'spec.param',
    );
  }
}

/** Whether a value has a parameter type (`int` means an integral number). */
export function fitsType(value: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'int':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'list':
      return Array.isArray(value);
    default:
      return isRecord(value);
  }
}

const ASSET_RULE = 'use lower-case letters, digits, "_", ".", "/" and "-", starting with a letter';

/**
 * `on.assets`: valid keys, and none the flow produces itself: each of its runs would
 * materialise the asset again and start the next run, forever.
 */
function checkAssetTriggers(on: unknown, tasks: Record<string, unknown>, add: Add): void {
  if (!isRecord(on)) return;
  const produced = new Map<string, string>();
  for (const [id, task] of Object.entries(tasks)) {
    if (isRecord(task) && isRecord(task.produces))
      for (const key of Object.keys(task.produces)) produced.set(key, id);
  }
  for (const [key, i] of strings(on.assets)) {
    if (!ASSET_KEY_PATTERN.test(key))
      add(['on', 'assets', i], `asset key "${key}" is not allowed: ${ASSET_RULE}`);
    else if (produced.has(key))
      add(
        ['on', 'assets', i],
        `the flow runs on asset "${key}", which its own task "${produced.get(key)}" produces: every run would start the next one`,
      );
  }
}

// Per-task rules that the schema cannot say: they relate two keys, or constrain names.
function checkTaskShape(id: string, task: Record<string, unknown>, add: Add): void {
  const where = `task "${id}": `;
  if (task.run === undefined && task.function === undefined) {
    add(['tasks', id], `${where}"run" is required (the command to run)`, 'spec.invalid', 'key');
  } else if (task.run !== undefined && task.function !== undefined) {
    add(
      ['tasks', id, 'function'],
      `${where}give "run" or "function", not both (a task runs one program)`,
      'spec.invalid',
      'key',
    );
  }
  if (task.max_parallel !== undefined && task.map === undefined) {
    add(
      ['tasks', id, 'max_parallel'],
      `${where}"max_parallel" only applies to a task with "map" (it limits how many items run at once)`,
      'spec.invalid',
      'key',
    );
  }
  const assetRule = ASSET_RULE;
  if (isRecord(task.produces)) {
    for (const key of Object.keys(task.produces)) {
      if (!ASSET_KEY_PATTERN.test(key))
        add(
          ['tasks', id, 'produces', key],
          `${where}asset key "${key}" is not allowed: ${assetRule}`,
          'spec.invalid',
          'key',
        );
    }
  }
  for (const [key, i] of strings(task.consumes)) {
    if (!ASSET_KEY_PATTERN.test(key))
      add(['tasks', id, 'consumes', i], `${where}asset key "${key}" is not allowed: ${assetRule}`);
  }
  if (isRecord(task.env)) {
    for (const name of Object.keys(task.env)) {
      if (!ENV_NAME_PATTERN.test(name))
        add(
          ['tasks', id, 'env', name],
          `${where}env name "${name}" is not allowed: use letters, digits and "_", not starting with a digit`,
          'spec.invalid',
          'key',
        );
    }
  }
  if (isRecord(task.resources)) {
    for (const key of ['cpu', 'memory'] as const) {
      const value = task.resources[key];
      if (typeof value === 'string' && !value.includes('${{')) {
        add(
          ['tasks', id, 'resources', key],
          `${where}"resources.${key}" must be a positive number or an expression "\${{ … }}", got ${describeValue(value)}`,
        );
      }
    }
  }
}

// Expressions mostly name a need or a need's need: walk up breadth-first and stop at
// the task (depth-first dives to the roots first: 20 s for a 10,000-task flow).
function isUpstream(
  id: string,
  ancestor: string,
  needsById: ReadonlyMap<string, readonly string[]>,
): boolean {
  const seen = new Set<string>([id]);
  const queue = [id];
  for (let head = 0; head < queue.length; head++) {
    for (const need of needsById.get(queue[head]!) ?? []) {
      if (need === ancestor) return true;
      if (!seen.has(need)) {
        seen.add(need);
        queue.push(need);
      }
    }
  }
  return false;
}

function strings(value: unknown): [string, number][] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v, i): [string, number][] => (typeof v === 'string' ? [[v, i]] : []));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
