import type { CommandDef } from './args.ts';
import type { Handler } from './commands.ts';

/**
 * Each command's module, loaded when that command runs: `baton run` does not load the
 * dashboard's server, the scheduler's metrics or the SDK exporter, ~8 MB of resident
 * memory (compiled code and heap) a 10,000-task run would otherwise carry to its end.
 * `commands.ts` keeps the eager list for --help and the docs; a test checks both agree.
 */
export const COMMAND_LOADERS: Readonly<Record<string, () => Promise<[CommandDef, Handler]>>> = {
  init: async () => ((m) => [m.initCommand, m.init])(await import('./init.ts')),
  validate: async () => ((m) => [m.validateCommand, m.validate])(await import('./validate.ts')),
  run: async () => ((m) => [m.runCommand, m.run])(await import('./run.ts')),
  trigger: async () => ((m) => [m.triggerCommand, m.trigger])(await import('./trigger.ts')),
  scheduler: async () => ((m) => [m.schedulerCommand, m.scheduler])(await import('./scheduler.ts')),
  up: async () => ((m) => [m.upCommand, m.up])(await import('./up.ts')),
  worker: async () => ((m) => [m.workerCommand, m.worker])(await import('./worker.ts')),
  workers: async () => ((m) => [m.workersCommand, m.workers])(await import('./workers.ts')),
  deploy: async () => ((m) => [m.deployCommand, m.deploy])(await import('./deploy.ts')),
  flows: async () => ((m) => [m.flowsCommand, m.flows])(await import('./flows.ts')),
  pause: async () => ((m) => [m.pauseCommand, m.pause])(await import('./pause.ts')),
  unpause: async () => ((m) => [m.unpauseCommand, m.unpause])(await import('./pause.ts')),
  pools: async () => ((m) => [m.poolsCommand, m.pools])(await import('./pools.ts')),
  plan: async () => ((m) => [m.planCommand, m.plan])(await import('./plan.ts')),
  backfill: async () => ((m) => [m.backfillCommand, m.backfill])(await import('./backfill.ts')),
  runs: async () => ((m) => [m.runsCommand, m.runs])(await import('./runs.ts')),
  show: async () => ((m) => [m.showCommand, m.show])(await import('./show.ts')),
  logs: async () => ((m) => [m.logsCommand, m.logs])(await import('./logs.ts')),
  assets: async () => ((m) => [m.assetsCommand, m.assets])(await import('./assets.ts')),
  dashboard: async () => ((m) => [m.dashboardCommand, m.dashboard])(await import('./dashboard.ts')),
  export: async () => ((m) => [m.exportCommand, m.exportFlow])(await import('./export.ts')),
  db: async () => ((m) => [m.dbCommand, m.db])(await import('./db.ts')),
};
