/**
 * Loads a flow file: YAML → schema → document checks → `FlowSpec`. Every problem found is
 * reported at once, each as `file:line:col: message`, sorted by position.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import type { YAMLError } from 'yaml';
import { describeIssue } from './describe-issue.ts';
import { findDuplicateKeys } from './duplicate-keys.ts';
import { SpecError, type SpecProblem } from './errors.ts';
import type { LoadedFlow } from './flow-spec.ts';
import { normaliseFlow } from './normalise.ts';
import type { PathProblem } from './path-problem.ts';
import { type FlowFile, flowSchema } from './schema.ts';
import { validateFlow } from './validate.ts';
import { yamlLib } from './yaml-lib.ts';
import { type LineCol, YamlLocator } from './yaml-locator.ts';

/**
 * Parses and validates a flow from its source text. `path` names the file in messages and
 * sets `baseDir` (its directory, absolute). Throws a `SpecError` listing every problem.
 */
export function parseFlow(source: string, path: string): LoadedFlow {
  return parseValid(source, path) ?? parseWithPositions(source, path);
}

/**
 * The common case, a valid flow, without building a positioned YAML document: `yaml`'s
 * Document costs about 2 s and 90 MB of heap for a 10,000-task file, js-yaml 65 ms and
 * 6 MB. Anything wrong (including what js-yaml alone rejects, such as duplicate keys)
 * returns undefined, and the positioned parse below finds and locates every problem.
 * Both parse YAML 1.2 with the core schema, so they agree on what a document means.
 */
function parseValid(source: string, path: string): LoadedFlow | undefined {
  const checked = checkQuietly(source, path);
  if (checked === undefined) return undefined;
  return {
    spec: normaliseFlow(checked.flow, checked.order),
    source,
    path,
    baseDir: dirname(resolve(path)),
  };
}

/**
 * The schema-checked document and its task order, or undefined at the first problem. Its
 * own function so that js-yaml's tree is garbage by the time `normaliseFlow` builds the
 * spec: on 10,000 tasks each tree is ~10 MB, and the peak is what `baton run` pays.
 */
function checkQuietly(
  source: string,
  path: string,
): { flow: FlowFile; order: ReturnType<typeof validateFlow>['order'] } | undefined {
  let data: unknown;
  try {
    data = loadYaml(source, { schema: CORE_SCHEMA, filename: path });
  } catch {
    return undefined;
  }
  const parsed = flowSchema.safeParse(data);
  if (!parsed.success) return undefined;
  const check = validateFlow(data);
  if (check.problems.length > 0) return undefined;
  return { flow: parsed.data, order: check.order };
}

function parseWithPositions(source: string, path: string): LoadedFlow {
  const { LineCounter, parseDocument } = yamlLib();
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const located = (
    line: number,
    col: number,
    code: SpecProblem['code'],
    message: string,
  ): SpecProblem => ({
    file: path,
    line,
    col,
    code,
    message,
  });
  // The parser reports every token after a syntax error; only the first one helps.
  const yamlProblems = doc.errors.slice(0, 1).map((error) => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return located(line, col, 'spec.yaml', yamlMessage(error));
  });
  for (const { key, offset } of findDuplicateKeys(doc)) {
    const { line, col } = lineCounter.linePos(offset);
    const message = `duplicate key "${key}" (each key may appear once in a map)`;
    yamlProblems.push(located(line, col, 'spec.duplicate', message));
  }
  // Past a syntax error the document is a guess; its schema problems would be noise.
  if (yamlProblems.length > 0) throw new SpecError(sortProblems(yamlProblems));
  let data: unknown;
  try {
    // A small alias budget: a "billion laughs" file must not hang `baton validate`.
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    throw new SpecError(
      [located(1, 1, 'spec.yaml', `cannot read the YAML: ${(error as Error).message}`)],
      {
        cause: error,
      },
    );
  }
  const locator = new YamlLocator(doc.contents, lineCounter, source);
  return parseFlowData(data, source, path, (p) => locator.locate(p.path, p.target, p.offset));
}

/**
 * Checks and normalises a flow given as data rather than YAML text (a flow built by the
 * SDK): the same schema and document checks as a YAML file. `locate` turns each problem's
 * document path into a position in `path`; `source` is what is stored with the version.
 * Throws a `SpecError` listing every problem.
 */
export function parseFlowData(
  data: unknown,
  source: string,
  path: string,
  locate: (problem: PathProblem) => LineCol,
): LoadedFlow {
  const pathProblems: PathProblem[] = [];
  const parsed = flowSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      pathProblems.push(...describeIssue(issue, data, flowSchema));
  }
  const check = validateFlow(data);
  pathProblems.push(...check.problems);
  if (pathProblems.length > 0 || !parsed.success) {
    const problems = pathProblems.map((p): SpecProblem => {
      const { line, col } = locate(p);
      return { file: path, line, col, code: p.code, message: p.message };
    });
    throw new SpecError(sortProblems(problems));
  }
  return {
    spec: normaliseFlow(parsed.data, check.order),
    source,
    path,
    baseDir: dirname(resolve(path)),
  };
}

/**
 * Reads and parses a flow file (see `parseFlow`). A missing or unreadable file is a
 * `SpecError` with code `spec.file` naming the path.
 */
export async function loadFlowFile(path: string): Promise<LoadedFlow> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    const reason =
      FILE_ERRORS[(error as NodeJS.ErrnoException).code ?? ''] ?? (error as Error).message;
    throw new SpecError(
      [
        {
          file: path,
          line: 1,
          col: 1,
          code: 'spec.file',
          message: `cannot read the flow file: ${reason}`,
        },
      ],
      {
        cause: error,
      },
    );
  }
  return parseFlow(source, path);
}

const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

function yamlMessage(error: YAMLError): string {
  if (error.code === 'TAB_AS_INDENT')
    return 'tab used for indentation (YAML indents with spaces only)';
  const text = error.message.split('\n')[0] ?? error.message;
  return `YAML syntax error: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

// By position, then message, and without repeats: several checks can meet on one spot.
function sortProblems(problems: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const key = `${p.line}:${p.col}:${p.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.col - b.col);
}
