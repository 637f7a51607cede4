import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { CORE_SCHEMA, load } from 'js-yaml';
import { UsageError } from '../spec/index.ts';
import {
  FileLogStore,
  type LogStore,
  openStore,
  ShippedLogStore,
  type Store,
} from '../store/index.ts';

/** Where Baton keeps its state for a project, resolved once at the entry point. */
export interface Project {
  /** The folder with `baton.yaml`, else the current directory. */
  readonly root: string;
  /** `.baton/` under the root: the SQLite database, attempt directories, logs. */
  readonly stateDir: string;
  readonly runsDir: string;
  readonly dbUrl: string;
  /** Folders searched for flow files by name (`flows:` in baton.yaml, default `flows`). */
  readonly flowDirs: readonly string[];
}

/** Finds the project root by walking up from `cwd` to the nearest `baton.yaml`. */
export function findProject(cwd: string, dbFlag?: string): Project {
  let dir = resolve(cwd);
  let root = resolve(cwd);
  let config: Record<string, unknown> = {};
  for (;;) {
    const file = join(dir, 'baton.yaml');
    if (existsSync(file)) {
      root = dir;
      try {
        config =
          (load(readFileSync(file, 'utf8'), { schema: CORE_SCHEMA, filename: file }) as Record<
            string,
            unknown
          > | null) ?? {};
      } catch (e) {
        throw new UsageError(`${file}: not valid YAML: ${(e as Error).message}`);
      }
      break;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const stateDir = join(root, '.baton');
  const flows =
    config.flows === undefined
      ? ['flows']
      : Array.isArray(config.flows)
        ? config.flows
        : [config.flows];
  const dbUrl =
    dbFlag ??
    process.env.BATON_DB ??
    (typeof config.db === 'string' ? config.db : `sqlite:${join(stateDir, 'baton.db')}`);
  return {
    root,
    stateDir,
    runsDir: join(stateDir, 'runs'),
    dbUrl,
    flowDirs: flows.map((f) => (isAbsolute(String(f)) ? String(f) : join(root, String(f)))),
  };
}

/** Opens the project's store and brings its schema up to date. */
export async function openProjectStore(project: Project): Promise<Store> {
  const store = await openStore(project.dbUrl);
  await store.migrate();
  return store;
}

/**
 * The project's logs as readers see them: the database's for attempts remote workers ran,
 * else the files under `.baton/runs`.
 */
export function projectLogs(project: Project, store: Store): LogStore {
  return new ShippedLogStore(store, new FileLogStore(project.runsDir));
}
