/**
 * The TypeScript SDK: code-first flows that compile to the same `FlowSpec` as YAML.
 *
 * ```ts
 * import { flow, param } from 'baton/sdk';
 * export default flow('daily', { params: { region: param.string({ default: 'eu' }) } }, ({ task, params }) => {
 *   const extract = task('extract', { run: `./extract --region ${params.region}`, outputs: ['path'] });
 *   task('load', { run: ['./load', extract.outputs.path] }); // needs extract, found from use
 * });
 * ```
 *
 * It only builds flows: the scheduler, dashboard and workers never import it. Function
 * tasks run through `function-runner.ts` in their own process.
 */
export {
  type Flow,
  type FlowContext,
  type FlowOptions,
  type FlowSource,
  type FunctionLocation,
  flow,
  isFlow,
  type TaskBuilder,
} from './flow.ts';
export { type Param, type ParamValues, param } from './param.ts';
export { expr, Ref, type Untyped } from './ref.ts';
export type {
  AssetRef,
  CommandTaskOptions,
  FunctionTaskOptions,
  Task,
  TaskArgs,
  TaskOptions,
  TaskResult,
} from './task.ts';
