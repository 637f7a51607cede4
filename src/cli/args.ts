import { parseArgs } from 'node:util';
import { parseSize, UsageError } from '../spec/index.ts';

/** One option of a command, as `node:util` parseArgs takes it, plus its help line. */
export interface OptionDef {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly help: string;
  readonly value?: string;
}

export interface CommandDef {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionDef>>;
  /** Extra text after the options (examples, exit codes). */
  readonly details?: string;
}

/** Options every command that touches the database accepts. */
export const DB_OPTION: Record<string, OptionDef> = {
  db: {
    type: 'string',
    value: 'URL',
    help: 'metadata database (default $BATON_DB, else sqlite:.baton/baton.db under the project root)',
  },
};
/** The local executor's memory budget (`baton run`, `baton scheduler`, `baton up`). */
export const MEMORY_OPTION: Record<string, OptionDef> = {
  memory: {
    type: 'string',
    value: 'SIZE',
    help: "local: memory budget; a task starts only while its resources.memory fits (e.g. 8GiB; default: the machine's memory)",
  },
};

/** Parses a byte size flag (`512MiB`, `4GiB`), or throws a UsageError naming it. */
export function sizeFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseSize(String(value));
  if (bytes === null)
    throw new UsageError(`${flag} must be a size such as 512MiB or 4GiB, got "${String(value)}"`);
  return bytes;
}

export const JSON_OPTION: Record<string, OptionDef> = {
  json: { type: 'boolean', help: 'print machine-readable JSON instead of text' },
};

/** Renders `--help` for a command. */
export function helpText(def: CommandDef): string {
  const rows = Object.entries({
    ...def.options,
    help: { type: 'boolean', short: 'h', help: 'show this help' } as OptionDef,
  }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    return `  ${flag.padEnd(28)} ${o.help}`;
  });
  return [
    `Usage: ${def.usage}`,
    '',
    def.summary,
    '',
    'Options:',
    ...rows,
    ...(def.details ? ['', def.details] : []),
  ].join('\n');
}

export type Parsed = {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
};

/** Parses argv for a command; unknown flags are a UsageError naming the flag and the command. */
export function parseCommand(def: CommandDef, argv: readonly string[]): Parsed | 'help' {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
  > = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [k, o] of Object.entries(def.options)) {
    options[k] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    if (parsed.values.help) return 'help';
    return parsed as Parsed;
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    // `baton pools set db -1` reads -1 as a flag: say what is wrong with the value instead.
    const negative = /^Unknown option '(-\d[^']*)'/.exec(msg)?.[1];
    if (negative !== undefined)
      throw new UsageError(
        `baton ${def.name}: ${negative}: negative numbers are not accepted (see baton ${def.name} --help)`,
      );
    throw new UsageError(`baton ${def.name}: ${msg} (see baton ${def.name} --help)`);
  }
}

/** Parses repeated `-p key=value` flags. */
export function parseKeyValues(
  items: readonly string[] | undefined,
  flag: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} expects key=value, got "${item}"`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Parses a positive integer flag, or throws a UsageError naming it. */
export function positiveInt(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${String(value)}"`);
  return n;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1000 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Parses a size flag (`512MiB`, `4GiB`, `2G`, bytes), or throws a UsageError naming it. */
export function sizeBytes(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(value).trim());
  const unit = m ? SIZE_UNITS[(m[2] as string).toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(
      `${flag} must be a size such as 512MiB, 4GiB or 2G, got "${String(value)}"`,
    );
  }
  return Math.round(Number(m[1]) * unit);
}
