import { SpecError, type SpecProblem } from '../spec/index.ts';
import { type CommandDef, JSON_OPTION } from './args.ts';
import { flowFilesUnder, loadFlow } from './flow-files.ts';
import { findProject } from './project.ts';

export const validateCommand: CommandDef = {
  name: 'validate',
  usage: 'baton validate [PATH…]',
  summary:
    "Checks flow files (default: the project's flows/ folder) without running anything.\n" +
    'Every problem is printed as file:line:col: message.',
  options: { ...JSON_OPTION },
  details: 'Exit status: 0 all flows valid, 2 at least one problem.',
};

/** `baton validate`: check flows; file:line:col errors; exit 2 on invalid. */
export async function validate(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const project = findProject(process.cwd());
  const files = flowFilesUnder(positionals.length ? positionals : project.flowDirs);
  const problems: SpecProblem[] = [];
  const valid: { file: string; flow: string; tasks: number }[] = [];
  for (const file of files) {
    try {
      const flow = await loadFlow(file);
      valid.push({ file, flow: flow.spec.flow, tasks: flow.spec.tasks.length });
    } catch (e) {
      if (e instanceof SpecError) problems.push(...e.problems);
      else throw e;
    }
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ valid, problems }, null, 2)}\n`);
  } else {
    for (const v of valid)
      process.stdout.write(`ok  ${v.file}: flow "${v.flow}", ${v.tasks} tasks\n`);
    for (const p of problems) process.stderr.write(`${p.file}:${p.line}:${p.col}: ${p.message}\n`);
    if (files.length === 0) process.stderr.write('no flow files found\n');
    else if (problems.length)
      process.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
  }
  return problems.length > 0 || files.length === 0 ? 2 : 0;
}
