export { cronJob } from './cron.ts';
export { formatDuration, parseDuration } from './duration.ts';
export * from './errors.ts';
export * from './expr.ts';
export type * from './flow-spec.ts';
export { loadFlowFile, parseFlow } from './load.ts';
export { resolveParams } from './params.ts';
export { flowSchema, ID_PATTERN, TRIGGER_RULES } from './schema.ts';
export * from './zoned-time.ts';
