import { helpText, parseCommand } from './args.ts';
import { COMMANDS, USAGE } from './commands.ts';
import { describeError, exitCodeFor } from './exit-codes.ts';

/** Entry point: parses the command line, runs the command, maps errors to exit codes. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write('baton 0.1.0\n');
    return 0;
  }
  const entry = COMMANDS.find(([d]) => d.name === name);
  if (!entry) {
    process.stderr.write(`baton: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  const [def, handler] = entry;
  try {
    const parsed = parseCommand(def, rest);
    if (parsed === 'help') {
      process.stdout.write(`${helpText(def)}\n`);
      return 0;
    }
    return await handler(parsed.values, parsed.positionals);
  } catch (e) {
    process.stderr.write(`${describeError(e)}\n`);
    return exitCodeFor(e);
  }
}

// node:sqlite still announces itself as experimental on some Node versions; users need not see it.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'ExperimentalWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

// `npm run baton -- …` runs in the package folder; act in the folder the user typed it in.
if (process.env.npm_lifecycle_event === 'baton' && process.env.INIT_CWD)
  process.chdir(process.env.INIT_CWD);

const code = await main(process.argv.slice(2));
process.exit(code);
