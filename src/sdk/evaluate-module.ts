/**
 * `node evaluate-module.ts FILE.ts`: imports a flow module in this short-lived process
 * and writes its flow as flow-file data (JSON) to file descriptor 3, so that whatever the
 * module prints on stdout cannot corrupt it. Baton's own process never imports user code.
 *
 * Writes `{ ok: true, source: FlowSource }`, or `{ ok: false, message, line, col }`
 * when the module cannot be imported or declares no valid flow.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stackSites } from './call-site.ts';
import { isFlow } from './flow.ts';

/** What the evaluator reports about one module. */
export type Evaluation =
  | { readonly ok: true; readonly source: import('./flow.ts').FlowSource }
  | { readonly ok: false; readonly message: string; readonly line: number; readonly col: number };

async function evaluate(path: string): Promise<Evaluation> {
  const fail = (message: string, error?: unknown): Evaluation => {
    const at =
      error instanceof Error
        ? stackSites(error.stack ?? '').find((s) => s.file === path)
        : undefined;
    return { ok: false, message, line: at?.line ?? 1, col: at?.col ?? 1 };
  };
  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(path).href);
  } catch (error) {
    // The SDK's own complaints (a misspelt output, a param of the wrong type) are about
    // the flow, not about importing it.
    const code = (error as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' && code.startsWith('spec.')) return fail(describe(error), error);
    return fail(`cannot import the flow module: ${describe(error)}`, error);
  }
  const flows = Object.entries(module).filter(([, value]) => isFlow(value));
  if (flows.length !== 1) {
    const names = flows.map(([name]) => name).join(', ');
    return fail(
      flows.length === 0
        ? 'the module exports no flow (write `export default flow(…)`)'
        : `the module exports ${flows.length} flows (${names}); a flow file exports one`,
    );
  }
  const [exportName, value] = flows[0]!;
  const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
  try {
    const source = (value as import('./flow.ts').Flow).toFile({
      module: basename(path),
      export: exportName,
      sha256,
    });
    return { ok: true, source };
  } catch (error) {
    return fail(describe(error), error);
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's syntax errors from type stripping carry the position in the message's first line.
  return error.message.split('\n')[0] ?? error.message;
}

const path = resolve(process.argv[2] ?? '');
const result = await evaluate(path);
writeSync(3, JSON.stringify(result));
// A module that leaves something open (a timer, a connection) must not hold validation up.
process.exit(0);
