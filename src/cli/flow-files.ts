import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type LoadedFlow, loadFlowFile, NotFoundError } from '../spec/index.ts';
import type { Project } from './project.ts';
import { isTypeScriptFlow, loadTypeScriptFlow } from './ts-flow.ts';

/**
 * Loads a flow file, YAML or TypeScript (SDK), into the same checked `LoadedFlow`; the
 * one entry point for every command that reads flow files.
 */
export async function loadFlow(path: string): Promise<LoadedFlow> {
  return isTypeScriptFlow(path) ? (await loadTypeScriptFlow(path)).flow : loadFlowFile(path);
}

// In folders, TypeScript flows are `flow.ts` or `*.flow.ts`: other modules there are helpers.
const FLOW_FILE = /(\.ya?ml|(^|[/.])flow\.ts)$/;
const FLOW_SUFFIX = /(\.ya?ml|\.flow\.ts|\.ts)$/;

/**
 * Every flow file under the given paths: files as given; in folders, recursively, every
 * `.yaml`/`.yml` and every `flow.ts` or `*.flow.ts`.
 */
export function flowFilesUnder(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name.startsWith('.') || name === 'node_modules') continue;
        walk(join(p, name));
      }
    } else if (FLOW_FILE.test(p) && !p.endsWith('baton.yaml')) out.push(p);
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new NotFoundError(`${p}: no such file or folder`, { path: p });
    if (statSync(p).isFile()) out.push(p);
    else walk(p);
  }
  return out;
}

/**
 * Finds a flow by file path, or by name among the project's flow folders
 * (`flows/` by default). The name must match the file's `flow:` key.
 */
export async function findFlow(project: Project, nameOrPath: string): Promise<LoadedFlow> {
  const asPath = resolve(nameOrPath);
  if (existsSync(asPath) && statSync(asPath).isFile()) return loadFlow(asPath);
  const dirs = project.flowDirs.filter((d) => existsSync(d));
  for (const file of flowFilesUnder(dirs)) {
    if (file.replace(FLOW_SUFFIX, '').endsWith(`/${nameOrPath}`)) return loadFlow(file);
  }
  for (const file of flowFilesUnder(dirs)) {
    const flow = await loadFlow(file).catch(() => undefined);
    if (flow?.spec.flow === nameOrPath) return flow;
  }
  throw new NotFoundError(
    `no flow file "${nameOrPath}" and no flow named "${nameOrPath}" in ${dirs.length ? dirs.join(', ') : `${project.root}/flows (missing)`}`,
    { flow: nameOrPath },
  );
}
