export {
  applyCommand,
  applyPendingCommands,
  type CommandHooks,
  type CommandOutcome,
} from './apply-commands.ts';
export { createRun, createRunReporting, newRunId, saveFlow } from './create-run.ts';
export { type DriveRunOptions, driveRun } from './drive-run.ts';
export { type DstNote, dstNotes } from './dst-notes.ts';
export {
  backfillTodo,
  type FireDueRunsOptions,
  type FireReport,
  fireDueRuns,
  intervalRunKey,
  type ScheduleCache,
} from './fire-due-runs.ts';
export { readTaskOutput } from './output-file.ts';
export {
  LostOwnershipError,
  RunController,
  type RunProgress,
  type TaskAction,
} from './run-controller.ts';
export {
  type DataInterval,
  type DueQuery,
  ScheduleCalendar,
  type ScheduledFlow,
} from './schedule-calendar.ts';
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
