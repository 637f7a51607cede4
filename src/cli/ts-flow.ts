/**
 * Flows written in TypeScript with the SDK. The module is evaluated in a separate,
 * short-lived `node` process (`src/sdk/evaluate-module.ts`) that hands back flow-file
 * data; from there on it is checked and normalised exactly like YAML. Baton's own
 * process never imports the user's code.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type FlowFile,
  type LineCol,
  type LoadedFlow,
  parseFlowData,
  SpecError,
  type SpecProblem,
} from '../spec/index.ts';

/** A path handed to the child process; the CLI does not import the SDK. */
const EVALUATOR = fileURLToPath(new URL('../sdk/evaluate-module.ts', import.meta.url));

/** How long a flow module may take to import before Baton gives up on it. */
const EVALUATE_TIMEOUT_MS = 60_000;

/** Whether a path names a TypeScript flow module rather than a YAML file. */
export function isTypeScriptFlow(path: string): boolean {
  return /\.(c|m)?ts$/.test(path) && !path.endsWith('.d.ts');
}

/** A TypeScript flow: the checked flow, and the flow-file data it was built from. */
export interface TypeScriptFlow {
  readonly flow: LoadedFlow;
  readonly data: FlowFile;
}

interface Site {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

type Evaluation =
  | {
      ok: true;
      source: {
        file: FlowFile;
        sites: { flow?: Site; tasks: Record<string, Site> };
      };
    }
  | { ok: false; message: string; line: number; col: number };

/**
 * Evaluates a TypeScript flow module and checks its flow. Every problem is a `SpecError`
 * naming the `.ts` file: a module that cannot be imported, one that exports no flow, and
 * every validation problem, at the `flow(…)` or `task(…)` call it concerns.
 */
export async function loadTypeScriptFlow(path: string): Promise<TypeScriptFlow> {
  const absolute = resolve(path);
  const source = await readFile(absolute, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw fileProblem(path, error.code === 'ENOENT' ? 'no such file' : error.message, error);
  });
  const evaluation = await evaluate(path, absolute);
  if (!evaluation.ok) {
    throw new SpecError([
      {
        file: path,
        line: evaluation.line,
        col: evaluation.col,
        code: 'spec.file',
        message: evaluation.message,
      },
    ]);
  }
  const { file, sites } = evaluation.source;
  const at = (site: Site | undefined): LineCol | undefined =>
    site && site.file === absolute ? { line: site.line, col: site.col } : undefined;
  const locate = (p: { path: readonly (string | number)[] }): LineCol =>
    (p.path[0] === 'tasks' ? at(sites.tasks[String(p.path[1])]) : undefined) ??
    at(sites.flow) ?? { line: 1, col: 1 };
  return { flow: parseFlowData(file, source, path, locate), data: file };
}

function evaluate(path: string, absolute: string): Promise<Evaluation> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [EVALUATOR, absolute], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      // Node's compile cache keeps the stripped TypeScript: ~0.4 s saved per evaluation.
      env: {
        ...process.env,
        NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'node-compile-cache'),
      },
      timeout: EVALUATE_TIMEOUT_MS,
    });
    let stderr = '';
    let result = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    (child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (d: string) => {
      result += d;
    });
    child.on('error', fail);
    child.on('close', (code, signal) => {
      if (result !== '') {
        try {
          done(JSON.parse(result) as Evaluation);
          return;
        } catch {}
      }
      const why =
        signal === 'SIGTERM'
          ? `took over ${EVALUATE_TIMEOUT_MS / 1000} s`
          : `exited with ${signal ?? code}`;
      const said = stderr.trim().split('\n').slice(-5).join('\n');
      fail(fileProblem(path, `evaluating the flow module ${why}${said ? `:\n${said}` : ''}`));
    });
  });
}

function fileProblem(path: string, message: string, cause?: unknown): SpecError {
  const problem: SpecProblem = { file: path, line: 1, col: 1, code: 'spec.file', message };
  return new SpecError([problem], cause === undefined ? undefined : { cause });
}
