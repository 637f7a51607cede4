/**
 * Where in the user's module a flow or task was declared, read from a stack trace. Node
 * strips TypeScript types without moving code, so positions match the `.ts` file.
 */
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A 1-based position in a file. */
export interface CallSite {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

const SDK_DIR = dirname(fileURLToPath(import.meta.url)) + sep;
const FRAME = /((?:file:\/\/)?\/[^():]*):(\d+):(\d+)\)?$/;

/** Every position in a stack trace, innermost first (frames without a file skipped). */
export function stackSites(stack: string): CallSite[] {
  const sites: CallSite[] = [];
  for (const line of stack.split('\n')) {
    const m = FRAME.exec(line.trim());
    if (!m) continue;
    const file = m[1]!.startsWith('file://') ? fileURLToPath(m[1]!) : m[1]!;
    sites.push({ file, line: Number(m[2]), col: Number(m[3]) });
  }
  return sites;
}

/** The innermost position outside the SDK: the user's call of `flow` or `task`. */
export function callerSite(): CallSite | undefined {
  return stackSites(new Error().stack ?? '').find((s) => !s.file.startsWith(SDK_DIR));
}
