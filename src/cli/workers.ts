import { formatDuration } from '../spec/index.ts';
import type { WorkerInfo } from '../store/index.ts';
import { type CommandDef, DB_OPTION, JSON_OPTION } from './args.ts';
import { table } from './format.ts';
import { findProject, openProjectStore } from './project.ts';

export const workersCommand: CommandDef = {
  name: 'workers',
  usage: 'baton workers [--all] [--json]',
  summary:
    'Lists the remote workers (baton worker): queues, load, memory and last heartbeat.\n' +
    'Live ones by default; --all adds stopped and lost ones.',
  options: {
    all: { type: 'boolean', help: 'also list workers that stopped or were declared lost' },
    ...DB_OPTION,
    ...JSON_OPTION,
  },
};

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

function status(w: WorkerInfo): string {
  if (w.lost) return 'lost';
  return w.stoppedAt === null ? 'live' : 'stopped';
}

/** `baton workers`. */
export async function workers(values: Record<string, unknown>): Promise<number> {
  const project = findProject(process.cwd(), values.db as string | undefined);
  const store = await openProjectStore(project);
  try {
    const now = await store.now();
    const all = await store.listWorkers();
    const shown = values.all ? all : all.filter((w) => w.stoppedAt === null);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      return 0;
    }
    if (shown.length === 0) {
      process.stdout.write(
        `no ${values.all ? '' : 'live '}workers in ${store.url} (start one with baton worker --db …)\n`,
      );
      return 0;
    }
    process.stdout.write(
      `${table(
        ['NAME', 'STATUS', 'QUEUES', 'RUNNING', 'SLOTS', 'MEMORY', 'HEARTBEAT', 'HOST'],
        shown.map((w) => [
          w.name,
          status(w),
          w.queues.join(','),
          String(w.running),
          String(w.slots),
          gib(w.memoryBytes),
          `${formatDuration(Math.max(0, now - w.heartbeatAt))} ago`,
          `${w.host} (pid ${w.pid})`,
        ]),
      )}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
