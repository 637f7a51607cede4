import type { CommandDef } from './args.ts';
import { assets, assetsCommand } from './assets.ts';
import { backfill, backfillCommand } from './backfill.ts';
import { dashboard, dashboardCommand } from './dashboard.ts';
import { db, dbCommand } from './db.ts';
import { deploy, deployCommand } from './deploy.ts';
import { exportCommand, exportFlow } from './export.ts';
import { flows, flowsCommand } from './flows.ts';
import { init, initCommand } from './init.ts';
import { logs, logsCommand } from './logs.ts';
import { pause, pauseCommand, unpause, unpauseCommand } from './pause.ts';
import { plan, planCommand } from './plan.ts';
import { pools, poolsCommand } from './pools.ts';
import { run, runCommand } from './run.ts';
import { runs, runsCommand } from './runs.ts';
import { scheduler, schedulerCommand } from './scheduler.ts';
import { show, showCommand } from './show.ts';
import { trigger, triggerCommand } from './trigger.ts';
import { up, upCommand } from './up.ts';
import { validate, validateCommand } from './validate.ts';
import { worker, workerCommand } from './worker.ts';
import { workers, workersCommand } from './workers.ts';

/** A command's implementation: returns the exit status. */
export type Handler = (values: Record<string, unknown>, positionals: string[]) => Promise<number>;

/** Every command, in the order `baton --help` lists them. */
export const COMMANDS: [CommandDef, Handler][] = [
  [initCommand, init],
  [validateCommand, validate],
  [runCommand, run],
  [triggerCommand, trigger],
  [schedulerCommand, scheduler],
  [upCommand, up],
  [workerCommand, worker],
  [workersCommand, workers],
  [deployCommand, deploy],
  [flowsCommand, flows],
  [pauseCommand, pause],
  [unpauseCommand, unpause],
  [poolsCommand, pools],
  [planCommand, plan],
  [backfillCommand, backfill],
  [runsCommand, runs],
  [showCommand, show],
  [logsCommand, logs],
  [assetsCommand, assets],
  [dashboardCommand, dashboard],
  [exportCommand, exportFlow],
  [dbCommand, db],
];

/** The top-level help text. */
export const USAGE = `Usage: baton COMMAND [options]

Baton runs flows (DAGs of tasks written as YAML or TypeScript) and records every step in a database.

Commands:
${COMMANDS.map(([d]) => `  ${d.name.padEnd(10)} ${d.summary.split('\n')[0]}`).join('\n')}

Run "baton COMMAND --help" for a command's options.`;
