/**
 * Memory cgroups for the local executor's launchers, where the kernel lets Baton make
 * them: under the cgroup Baton itself runs in, cgroup v2 when the memory controller is
 * delegated there (`memory` in its `cgroup.subtree_control`), else cgroup v1's memory
 * hierarchy when it is mounted and writable. Each launcher gets one cgroup for its life
 * (made once, not per task) and moves into it before its first task, so its tasks are
 * born inside. Per attempt Node resets the peak, sets the limit, and afterwards reads the
 * peak and the OOM-kill counter: three small file operations, no fork.
 *
 * Without a usable cgroup the executor still runs everything; it just records no peak
 * memory, cannot enforce a memory request, and reports an OOM kill as SIGKILL.
 */

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { processExists } from './task-process.ts';

/** The file names of one cgroup version. */
interface Layout {
  readonly version: 1 | 2;
  readonly peak: string;
  readonly limit: string;
  readonly unlimited: string;
  /** The file with an `oom_kill N` line. */
  readonly oomEvents: string;
  /** Where writing asks the kernel to drop reclaimable memory (page cache) now. */
  readonly reclaim: string;
}

const V2: Layout = {
  version: 2,
  peak: 'memory.peak',
  limit: 'memory.max',
  unlimited: 'max',
  oomEvents: 'memory.events',
  reclaim: 'memory.reclaim',
};
const V1: Layout = {
  version: 1,
  peak: 'memory.max_usage_in_bytes',
  limit: 'memory.limit_in_bytes',
  unlimited: '-1',
  oomEvents: 'memory.oom_control',
  reclaim: 'memory.force_empty',
};

// Page cache a large task left charged to its launcher's cgroup would count in the next
// task's peak (a reset sets the peak to the current usage): above this peak, the cgroup
// is reclaimed before the next task. Below it, the leftover is too small to matter.
const reclaimAboveBytes = 32 * 1024 * 1024;

/** One executor's cgroups: a directory `baton.<pid>.<random>` with one child per launcher. */
export class TaskCgroups {
  readonly dir: string;
  readonly #layout: Layout;

  private constructor(dir: string, layout: Layout) {
    this.dir = dir;
    this.#layout = layout;
  }

  /** Which cgroup version is in use. */
  get version(): 1 | 2 {
    return this.#layout.version;
  }

  /**
   * Makes the executor's cgroup directory under the cgroup this process runs in; null when
   * neither version is usable here (not Linux, not delegated, read-only, no memory
   * controller). Removes what earlier processes that died left behind.
   */
  static open(proc = '/proc/self'): TaskCgroups | null {
    const found = findMemoryCgroup(proc);
    if (!found) return null;
    sweep(found.dir);
    const dir = join(found.dir, `baton.${process.pid}.${randomBytes(3).toString('hex')}`);
    try {
      mkdirSync(dir);
    } catch {
      return null;
    }
    return new TaskCgroups(dir, found.layout);
  }

  /** A cgroup for one launcher whose pid is `pid`, moved into it; null if that fails. */
  forLauncher(id: string, pid: number): LauncherCgroup | null {
    const dir = join(this.dir, id);
    try {
      mkdirSync(dir);
    } catch {
      return null;
    }
    try {
      writeFileSync(join(dir, 'cgroup.procs'), String(pid));
      return new LauncherCgroup(dir, this.#layout);
    } catch {
      removeDir(dir);
      return null;
    }
  }

  /** Removes the launcher cgroups that are empty by now, and the directory if all are; true once it is gone. */
  cleanUp(): boolean {
    return sweepOne(this.dir);
  }
}

/** The cgroup of one launcher: one attempt at a time runs in it. */
export class LauncherCgroup {
  readonly dir: string;
  readonly #layout: Layout;
  readonly #peakFd: number | null;
  readonly #oomFd: number | null;
  #limit = '';
  #lastPeak = 0;
  #oomKills: number;

  constructor(dir: string, layout: Layout) {
    this.dir = dir;
    this.#layout = layout;
    // Both files stay open for the launcher's life and are read at offset 0 (the kernel
    // regenerates them): an open per attempt and file was ~15 µs each of the executor's
    // time. cgroup v2 also resets memory.peak per open file (kernel 6.12+): reads through
    // the descriptor that wrote the reset see the peak since then.
    this.#peakFd = openOrNull(join(dir, layout.peak), 'r+');
    this.#oomFd = openOrNull(join(dir, layout.oomEvents), 'r');
    this.#oomKills = this.oomKills();
  }

  /**
   * Before an attempt: limits the cgroup to `limitBytes` (unlimited when undefined) and
   * restarts the peak. Returns false when the limit could not be set (the kernel refuses a
   * limit below what is charged and cannot be reclaimed): the attempt then runs unlimited.
   */
  prepare(limitBytes: number | undefined): boolean {
    if (this.#lastPeak > reclaimAboveBytes) this.#reclaim();
    let limited = true;
    const limit = limitBytes === undefined ? this.#layout.unlimited : String(limitBytes);
    if (limit !== this.#limit) {
      try {
        writeFileSync(join(this.dir, this.#layout.limit), limit);
        this.#limit = limit;
      } catch {
        limited = limitBytes === undefined;
      }
    }
    try {
      const reset = this.#layout.version === 2 ? 'reset\n' : '0';
      if (this.#peakFd !== null) writeSync(this.#peakFd, reset, 0);
      else writeFileSync(join(this.dir, this.#layout.peak), reset);
    } catch {
      // An older v2 kernel cannot reset the peak: it then reads as the launcher's peak.
    }
    return limited;
  }

  /** The peak since `prepare`, in bytes; undefined if unreadable. */
  peak(): number | undefined {
    let text: string;
    try {
      text = readAtStart(this.#peakFd, join(this.dir, this.#layout.peak));
    } catch {
      return undefined;
    }
    const bytes = Number.parseInt(text, 10);
    if (!Number.isFinite(bytes)) return undefined;
    this.#lastPeak = bytes;
    return bytes;
  }

  /**
   * True when the kernel's OOM killer killed a process in this cgroup since the last call
   * (the `oom_kill` counter grew).
   */
  oomKilledSinceLast(): boolean {
    const now = this.oomKills();
    const grew = now > this.#oomKills;
    this.#oomKills = now;
    return grew;
  }

  /** The cgroup's `oom_kill` counter (0 if the kernel does not keep one). */
  oomKills(): number {
    try {
      const text = readAtStart(this.#oomFd, join(this.dir, this.#layout.oomEvents));
      const match = /^oom_kill (\d+)$/m.exec(text);
      return match ? Number(match[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Closes what it holds; the directory goes once its launcher has exited (see `cleanUp`). */
  close(): void {
    if (this.#peakFd !== null) closeSync(this.#peakFd);
    if (this.#oomFd !== null) closeSync(this.#oomFd);
  }

  #reclaim(): void {
    try {
      const file = join(this.dir, this.#layout.reclaim);
      writeFileSync(file, this.#layout.version === 1 ? '0' : String(this.#lastPeak));
    } catch {
      // Best effort: the next peak may include the leftover.
    }
    this.#lastPeak = 0;
  }
}

function openOrNull(path: string, flags: string): number | null {
  try {
    return openSync(path, flags);
  } catch {
    return null;
  }
}

/** A small cgroup file's text, through `fd` from offset 0 when it is open. */
function readAtStart(fd: number | null, path: string): string {
  if (fd === null) return readFileSync(path, 'latin1');
  const buffer = Buffer.allocUnsafe(512);
  return buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0));
}

/**
 * The directory of this process's memory cgroup and its layout, when Baton may make
 * cgroups under it: v2 with the memory controller delegated, else v1's memory hierarchy.
 */
export function findMemoryCgroup(proc = '/proc/self'): { dir: string; layout: Layout } | null {
  let cgroups: string;
  let mounts: string;
  try {
    cgroups = readFileSync(`${proc}/cgroup`, 'utf8');
    mounts = readFileSync(`${proc}/mountinfo`, 'utf8');
  } catch {
    return null;
  }
  const candidates: { dir: string; layout: Layout }[] = [];
  for (const line of cgroups.split('\n')) {
    const [, controllers, path] = line.split(':', 3) as [string, string?, string?];
    if (path === undefined || controllers === undefined) continue;
    if (controllers === '') {
      const mount = mountOf(mounts, (type) => type === 'cgroup2');
      if (!mount) continue;
      const dir = within(mount, path);
      if (dir && delegatesMemory(dir)) candidates.push({ dir, layout: V2 });
    } else if (controllers.split(',').includes('memory')) {
      const mount = mountOf(
        mounts,
        (type, options) => type === 'cgroup' && options.split(',').includes('memory'),
      );
      const dir = mount && within(mount, path);
      if (dir) candidates.push({ dir, layout: V1 });
    }
  }
  // v2 first: where both exist (hybrid systems), v1's memory controller is the one bound,
  // and v2 then has no memory controller to delegate, so the check above already chose.
  return candidates.find((c) => c.layout.version === 2) ?? candidates[0] ?? null;
}

/** Mount point and root of the first mount whose type and super options match. */
function mountOf(
  mountinfo: string,
  match: (type: string, superOptions: string) => boolean,
): { point: string; root: string } | null {
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const [type, , options = ''] = right.split(' ');
    if (!type || !match(type, options)) continue;
    const fields = left.split(' ');
    const root = fields[3];
    const point = fields[4];
    if (root && point) return { point: unescapeMountinfo(point), root: unescapeMountinfo(root) };
  }
  return null;
}

/** The directory of cgroup `path` under a mount (whose root may be a sub-cgroup). */
function within(mount: { point: string; root: string }, path: string): string | null {
  if (mount.root === '/') return join(mount.point, path);
  if (path === mount.root || path.startsWith(`${mount.root}/`))
    return join(mount.point, path.slice(mount.root.length));
  return null;
}

function delegatesMemory(dir: string): boolean {
  try {
    return readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8')
      .trim()
      .split(' ')
      .includes('memory');
  } catch {
    return false;
  }
}

// mountinfo escapes space, tab, newline and backslash as octal.
function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

/** Removes `baton.<pid>.*` cgroups of processes that no longer exist (empty ones only). */
function sweep(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^baton\.(\d+)\.[0-9a-f]+$/.exec(name);
    if (match && !processExists(Number(match[1]))) sweepOne(join(parent, name));
  }
}

/** Removes the empty child cgroups of `dir`, then `dir` if it is empty; true once it is gone. */
function sweepOne(dir: string): boolean {
  let names: string[] = [];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return true;
  }
  for (const name of names) removeDir(join(dir, name));
  return removeDir(dir);
}

// A cgroup directory is removed with rmdir(2) alone (its files are not real files); the
// kernel refuses while a process is inside, which is what makes sweeping safe.
function removeDir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    // Busy (a task still runs in it), or already gone.
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
