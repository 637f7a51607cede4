export { cronJob } from './cron.ts';
export { formatDuration, parseDuration } from './duration.ts';
export * from './errors.ts';
export * from './expr.ts';
export { expressionInputs, references } from './expr-inputs.ts';
export type * from './flow-spec.ts';
export { loadFlowFile, parseFlow, parseFlowData } from './load.ts';
export { resolveParams } from './params.ts';
export type { NodePath, PathProblem } from './path-problem.ts';
export {
  type FlowFile,
  flowSchema,
  ID_PATTERN,
  type ParamFile,
  POOL_PATTERN,
  QUEUE_PATTERN,
  type TaskFile,
  TRIGGER_RULES,
} from './schema.ts';
export { formatBytes, parseSize } from './sizes.ts';
export { sourceLocation, taskFieldPath } from './source-line.ts';
export { didYouMean } from './suggest.ts';
export { findTemplates } from './template.ts';
export type { LineCol } from './yaml-locator.ts';
export * from './zoned-time.ts';
