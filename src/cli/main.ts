import { helpText, parseCommand } from './args.ts';
import { COMMAND_LOADERS } from './command-loaders.ts';
import { describeError, exitCodeFor } from './exit-codes.ts';

/** The top-level help: it lists every command, so it loads them all. */
async function usage(): Promise<string> {
  return (await import('./commands.ts')).USAGE;
}

/** Entry point: parses the command line, runs the command, maps errors to exit codes. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write('baton 0.1.0\n');
    return 0;
  }
  const load = Object.hasOwn(COMMAND_LOADERS, name) ? COMMAND_LOADERS[name] : undefined;
  if (!load) {
    process.stderr.write(`baton: unknown command "${name}"\n\n${await usage()}\n`);
    return 2;
  }
  const [def, handler] = await load();
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
