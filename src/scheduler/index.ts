export { createRun, newRunId, saveFlow } from './create-run.ts';
export { type DriveRunOptions, driveRun } from './drive-run.ts';
export { readTaskOutput } from './output-file.ts';
export { LostOwnershipError, RunController, type RunProgress } from './run-controller.ts';
export {
  DEFAULT_LEASE_MS,
  deadOnThisHost,
  driverId,
  holdRunLease,
  type Log,
  type LogLevel,
  Scheduler,
  type SchedulerHooks,
  type SchedulerOptions,
} from './scheduler.ts';
export { decide, type TriggerDecision, tally } from './trigger-rules.ts';
