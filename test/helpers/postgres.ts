/**
 * PostgreSQL for tests. A test run uses the server named by `BATON_TEST_PG_URL` when set
 * (`.ci/run` points it at the machine's server) and otherwise starts a throwaway server of
 * its own from the Debian binaries under /usr/lib/postgresql/<version>/bin. Either way it
 * works in a database of its own, dropped at the end. When no server can be had the
 * suite fails and says why: a PostgreSQL test is never silently skipped.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** A PostgreSQL server this test process started, which it may stop and start again. */
export interface ThrowawayServer {
  readonly port: number;
  /** Admin URL (database `postgres`). */
  readonly url: string;
  readonly dataDir: string;
  /** `pg_ctl restart -m immediate`: a crash-like restart, as a power cut would give. */
  restart(mode?: 'immediate' | 'fast'): void;
  stop(): void;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL tests need a server: set BATON_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) ' +
        'or install the server binaries (Debian: apt-get install postgresql) so a throwaway one can start',
    );
  }
  return join(root, versions[0] as string, 'bin');
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** initdb refuses to run as root: run the server's tools as the `postgres` user then. */
function asServerUser(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]]
    : [cmd, args];
}

/** Starts a throwaway PostgreSQL server in a temporary folder on a free port. */
export async function startThrowawayServer(): Promise<ThrowawayServer> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'baton-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const dataDir = join(dir, 'data');
  const run = (cmd: string, args: string[]) => {
    const [c, a] = asServerUser(join(bin, cmd), args);
    execFileSync(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
  };
  run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = () =>
    run('pg_ctl', ['-D', dataDir, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  start();
  const server: ThrowawayServer = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    restart(mode = 'immediate') {
      run('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);
      start();
    },
    stop() {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // A server left behind by a killed test run would hold its port and folder forever.
  process.once('exit', () => {
    try {
      spawn(...asServerUser(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop']), {
        stdio: 'ignore',
        detached: true,
      }).unref();
    } catch {
      // Best effort.
    }
  });
  return server;
}

/** A database of this test run's own, and how to drop it. */
export interface TestDatabase {
  readonly url: string;
  /** Another empty database on the same server (for copies, migrations from scratch). */
  another(): Promise<string>;
  /**
   * An empty schema of this database and a URL whose connections use it: as good as a
   * fresh database for a store, and much cheaper to make.
   */
  freshSchema(): Promise<{ readonly url: string; readonly schema: string }>;
  drop(): Promise<void>;
}

/**
 * Creates an empty database for this test process, on `BATON_TEST_PG_URL`'s server or on
 * a throwaway one.
 */
export async function testDatabase(): Promise<TestDatabase> {
  let server: ThrowawayServer | undefined;
  let admin = process.env.BATON_TEST_PG_URL;
  if (!admin) {
    server = await startThrowawayServer();
    admin = server.url;
  }
  const created: string[] = [];
  const adminUrl = admin;
  const make = async (): Promise<string> => {
    const name = `baton_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const client = new pg.Client({ connectionString: adminUrl });
    try {
      await client.connect();
    } catch (e) {
      throw new Error(
        `PostgreSQL tests cannot reach ${adminUrl}: ${(e as Error).message}. Start the server or unset BATON_TEST_PG_URL to use a throwaway one`,
      );
    }
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
    created.push(name);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const url = await make();
  let schemas = 0;
  return {
    url,
    another: make,
    async freshSchema() {
      const schema = `s${++schemas}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.end();
      const withPath = new URL(url);
      withPath.searchParams.set('options', `-c search_path=${schema}`);
      return { url: withPath.toString(), schema };
    },
    async drop() {
      if (server) {
        server.stop();
        return;
      }
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      for (const name of created)
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
