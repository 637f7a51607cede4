import { saveFlow } from '../scheduler/index.ts';
import {
  BatonError,
  type LoadedFlow,
  resolveParams,
  SpecError,
  type SpecProblem,
} from '../spec/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION } from './args.ts';
import { scheduleText } from './deployed.ts';
import { flowFilesUnder, loadFlow } from './flow-files.ts';
import { findProject, openProjectStore } from './project.ts';

export const deployCommand: CommandDef = {
  name: 'deploy',
  usage: 'baton deploy [PATH…] [--json]',
  summary:
    "Validates flow files (default: the project's flows/ folder), stores each as a flow version\n" +
    'and makes it the deployed one: new scheduled and backfill runs use it, runs already\n' +
    'created keep theirs. Nothing is deployed unless every file is valid.',
  options: { ...DB_OPTION, ...JSON_OPTION },
  details:
    'The scheduler reads flows from the database only: after editing a flow, deploy it again.\n' +
    'Exit status: 0 deployed, 2 a flow file is invalid (nothing was deployed).',
};

/** `baton deploy`: store and deploy flow versions. */
export async function deploy(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const project = findProject(process.cwd(), values.db as string | undefined);
  const files = flowFilesUnder(positionals.length ? positionals : project.flowDirs);
  const problems: SpecProblem[] = [];
  const flows: LoadedFlow[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    try {
      const flow = await loadFlow(file);
      const other = seen.get(flow.spec.flow);
      if (other !== undefined)
        problems.push(problem(file, `flow "${flow.spec.flow}" is also defined in ${other}`));
      seen.set(flow.spec.flow, file);
      if (flow.spec.schedule.length > 0) {
        try {
          resolveParams(flow.spec, {});
        } catch (e) {
          if (!(e instanceof BatonError)) throw e;
          problems.push(
            problem(file, `${e.message}, but scheduled runs set no parameters: give it a default`),
          );
        }
      }
      flows.push(flow);
    } catch (e) {
      if (e instanceof SpecError) problems.push(...e.problems);
      else throw e;
    }
  }
  if (files.length === 0)
    throw new SpecError([problem(positionals.join(' ') || 'flows/', 'no flow files found')]);
  if (problems.length > 0) throw new SpecError(problems);

  const store = await openProjectStore(project);
  try {
    const now = Date.now();
    const deployed = [];
    for (const flow of flows) {
      const version = await saveFlow(store, flow);
      const { flow: record, changed } = await store.deployFlowVersion(version.id, now);
      deployed.push({
        flow: record.name,
        version: version.version,
        versionId: version.id,
        changed,
        paused: record.paused,
        schedule: scheduleText(flow.spec),
        file: flow.path,
      });
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(deployed, null, 2)}\n`);
      return 0;
    }
    for (const d of deployed) {
      const what = d.changed ? `deployed version ${d.version}` : `version ${d.version} unchanged`;
      const paused = d.paused ? ' (paused: baton unpause to schedule it)' : '';
      process.stdout.write(`${d.flow}: ${what}, schedule: ${d.schedule}${paused}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

function problem(file: string, message: string): SpecProblem {
  return { file, line: 1, col: 1, code: 'spec.invalid', message };
}
