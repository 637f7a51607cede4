/**
 * `node function-runner.ts MODULE EXPORT SHA256`: runs one SDK function task, as the
 * task's own process. It imports the flow's module, calls the function of task
 * `$BATON_TASK` with the run's params, the task's inputs (`$BATON_INPUTS`) and the map
 * item, and appends what it returns to `$BATON_OUTPUT`: the same task contract as any
 * program. Everything it says goes to the task's log; any problem exits 1.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { FUNCTION_OF, isFlow } from './flow.ts';
import { INPUTS_VARIABLE } from './task.ts';

/** A problem that ends the task with a message for its log, without a stack of ours. */
class TaskProblem extends Error {}

const env = process.env;
const taskId = env.BATON_TASK ?? '';

async function main(modulePath: string, exportName: string, sha256: string): Promise<void> {
  let source: Buffer;
  try {
    source = readFileSync(modulePath);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TaskProblem(
      `function task "${taskId}": ${missing ? 'module not found on this machine' : 'cannot read the module'}: ${modulePath}` +
        '\n(a function task needs its flow module on the machine that runs it; command tasks do not)',
    );
  }
  const actual = createHash('sha256').update(source).digest('hex');
  if (actual !== sha256) {
    throw new TaskProblem(
      `function task "${taskId}": ${modulePath} changed since this flow version was made ` +
        `(sha256 ${actual.slice(0, 12)}…, the flow recorded ${sha256.slice(0, 12)}…); ` +
        'deploy or run the flow again so the code and the flow match',
    );
  }
  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(modulePath).href);
  } catch (error) {
    // Its own line first: a package missing on this machine reads as a bug otherwise.
    process.stderr.write(`function task "${taskId}": cannot import ${modulePath}\n`);
    throw error;
  }
  const target = module[exportName];
  const fn = isFlow(target) ? target[FUNCTION_OF](taskId) : undefined;
  if (fn === undefined) {
    throw new TaskProblem(
      `function task "${taskId}": export "${exportName}" of ${modulePath} has no function task "${taskId}"`,
    );
  }
  const mapped = env.BATON_MAP_INDEX !== undefined;
  const result = await fn({
    params: parseJson('BATON_PARAMS', {}),
    inputs: parseJson(INPUTS_VARIABLE, {}),
    item: mapped ? parseJson('BATON_ITEM', null) : undefined,
    index: mapped ? Number(env.BATON_MAP_INDEX) : undefined,
    attempt: Number(env.BATON_ATTEMPT ?? 1),
    run: {
      id: env.BATON_RUN_ID ?? '',
      flow: env.BATON_FLOW ?? '',
      logicalDate: env.BATON_LOGICAL_DATE ?? '',
    },
  } as Parameters<NonNullable<typeof fn>>[0]);
  if (result === undefined || result === null) return;
  const problem = notJson(result, 'the result');
  if (problem !== undefined || typeof result !== 'object' || Array.isArray(result)) {
    throw new TaskProblem(
      `function task "${taskId}" must return an object of JSON outputs (or nothing): ${problem ?? `the result is ${kindOf(result)}`}`,
    );
  }
  if (env.BATON_OUTPUT) appendFileSync(env.BATON_OUTPUT, `${JSON.stringify({ output: result })}\n`);
}

function parseJson(name: string, fallback: unknown): unknown {
  const text = env[name];
  return text === undefined || text === '' ? fallback : JSON.parse(text);
}

/** Where a value stops being JSON, or undefined when it all is. */
function notJson(value: unknown, at: string): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `${at} is ${value} (JSON has no such number)`;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const problem = notJson(item, `${at}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null)
      return `${at} is ${kindOf(value)}, not a plain object${value instanceof Date ? ' (return date.toISOString())' : ''}`;
    for (const [key, item] of Object.entries(value)) {
      const problem = notJson(item, `${at}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return `${at} is ${kindOf(value)}`;
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null)
    return `a ${value.constructor?.name ?? 'object'}`;
  return `a ${typeof value}`;
}

const [modulePath = '', exportName = '', sha256 = ''] = process.argv.slice(2);
try {
  await main(modulePath, exportName, sha256);
} catch (error) {
  // The task's log is for people: our own problems as one sentence, theirs with the stack.
  if (error instanceof TaskProblem) process.stderr.write(`${error.message}\n`);
  else if (error instanceof Error) process.stderr.write(`${error.stack ?? error.message}\n`);
  else
    process.stderr.write(
      `function task "${taskId}" threw ${JSON.stringify(error) ?? String(error)}\n`,
    );
  process.exitCode = 1;
}
// The task ends when its function does, even if it left a timer or a connection open.
// Logs are files, written synchronously, so nothing is cut short.
process.exit();
