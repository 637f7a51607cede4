import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../spec/index.ts';
import type { CommandDef } from './args.ts';

export const initCommand: CommandDef = {
  name: 'init',
  usage: 'baton init [DIR]',
  summary:
    'Scaffolds a Baton project in DIR (default: here): baton.yaml, flows/hello.yaml, .gitignore.',
  options: { force: { type: 'boolean', help: 'overwrite files that already exist' } },
};

const BATON_YAML = `# Baton project settings. Commands run anywhere below this folder find it.
# db: postgres://user@host/baton   # default: sqlite:.baton/baton.db
flows: flows
`;

const HELLO = `# yaml-language-server: $schema=../node_modules/baton/schema/flow.schema.json
flow: hello
description: A first flow - edit it, then \`baton run hello\`
params:
  who: { type: string, default: world }
defaults:
  retries: 1
  retry_delay: 2s
tasks:
  greet:
    run: |
      echo "hello, \${{ params.who }}"
      echo '{"output": {"greeted": 3}}' >> "$BATON_OUTPUT"
  count:
    needs: [greet]
    map: \${{ range(tasks.greet.outputs.greeted) }}
    run: [sh, -c, 'echo "item $BATON_ITEM of run $BATON_RUN_ID"']
  done:
    needs: [count]
    run: echo "all \${{ size(tasks.count.outputs) }} items done"
`;

/** \`baton init\`: scaffold a project with an example flow. */
export async function init(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const dir = resolve(positionals[0] ?? '.');
  const files: [string, string][] = [
    ['baton.yaml', BATON_YAML],
    [join('flows', 'hello.yaml'), HELLO],
    ['.gitignore', '.baton/\n'],
  ];
  const existing = files.filter(([f]) => existsSync(join(dir, f)) && f !== '.gitignore');
  if (existing.length && !values.force) {
    throw new UsageError(
      `${existing.map(([f]) => join(dir, f)).join(', ')} already exist${existing.length === 1 ? 's' : ''} (use --force to overwrite)`,
    );
  }
  mkdirSync(join(dir, 'flows'), { recursive: true });
  for (const [f, text] of files) {
    if (f === '.gitignore' && existsSync(join(dir, f))) continue;
    writeFileSync(join(dir, f), text);
  }
  process.stdout.write(
    `Created a Baton project in ${dir}\n  baton validate      check the flows\n  baton run hello     run the example flow\n`,
  );
  return 0;
}
