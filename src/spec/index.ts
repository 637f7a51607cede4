export { cronJob } from './cron.ts';
export { formatDuration, parseDuration } from './duration.ts';
export * from './errors.ts';
export * from './expr.ts';
export type * from './flow-spec.ts';
export { loadFlowFile, parseFlow, parseFlowData } from './load.ts';
export { resolveParams } from './params.ts';
export type { NodePath, PathProblem } from './path-problem.ts';
export {
  type FlowFile,
  flowSchema,
  ID_PATTERN,
  type ParamFile,
  QUEUE_PATTERN,
  type TaskFile,
  TRIGGER_RULES,
} from './schema.ts';
export { didYouMean } from './suggest.ts';
export { findTemplates } from './template.ts';
export type { LineCol } from './yaml-locator.ts';
export * from './zoned-time.ts';
