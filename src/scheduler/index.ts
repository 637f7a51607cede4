export {
  applyCommand,
  applyPendingCommands,
  type CommandHooks,
  type CommandOutcome,
} from './apply-commands.ts';
export { createRun, newRunId, saveFlow } from './create-run.ts';
export { type DriveRunOptions, driveRun } from './drive-run.ts';
export { readTaskOutput } from './output-file.ts';
export { LostOwnershipError, RunController, type RunProgress } from './run-controller.ts';
export { decide, type TriggerDecision, tally } from './trigger-rules.ts';
