import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type LoadedFlow, loadFlowFile, NotFoundError } from '../spec/index.ts';
import type { Project } from './project.ts';

/** Every `.yaml`/`.yml` file under the given paths (files as given, folders recursively). */
export function flowFilesUnder(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name.startsWith('.') || name === 'node_modules') continue;
        walk(join(p, name));
      }
    } else if (/\.ya?ml$/.test(p) && !p.endsWith('baton.yaml')) out.push(p);
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new NotFoundError(`${p}: no such file or folder`, { path: p });
    walk(p);
  }
  return out;
}

/**
 * Finds a flow by file path, or by name among the project's flow folders
 * (`flows/` by default). The name must match the file's `flow:` key.
 */
export async function findFlow(project: Project, nameOrPath: string): Promise<LoadedFlow> {
  const asPath = resolve(nameOrPath);
  if (existsSync(asPath) && statSync(asPath).isFile()) return loadFlowFile(asPath);
  const dirs = project.flowDirs.filter((d) => existsSync(d));
  for (const file of flowFilesUnder(dirs)) {
    if (file.replace(/\.ya?ml$/, '').endsWith(`/${nameOrPath}`)) return loadFlowFile(file);
  }
  for (const file of flowFilesUnder(dirs)) {
    const flow = await loadFlowFile(file).catch(() => undefined);
    if (flow?.spec.flow === nameOrPath) return flow;
  }
  throw new NotFoundError(
    `no flow file "${nameOrPath}" and no flow named "${nameOrPath}" in ${dirs.length ? dirs.join(', ') : `${project.root}/flows (missing)`}`,
    { flow: nameOrPath },
  );
}
