/**
 * Reading launcher journals (written by launcher.py or launcher.sh, one file per launcher,
 * append-only):
 * what adoption, relaunch checks and watched attempts know about attempts this process did
 * not see end. Live attempts never touch it: their launcher reports on its pipe.
 *
 * File `<journalDir>/<launcherPid>.<id>.journal`, one line per event:
 * - `P <token> <launcherPid>` (launcher.py): about to spawn the task. From here it may have
 *   run: an attempt with a P line and no S line is never started again, and once its
 *   launcher is gone it is lost.
 * - `S <token> <launcherPid> <taskPid>`: the task's process exists (launcher.sh: written
 *   by that process just before it execs the command, so no P line is needed).
 * - `F <token> <status>`: the shell's `$?` (128+n when signal n killed the task).
 * - `E <token> cd|log`: the workdir or the log could not be opened; nothing ran.
 * A line counts once its newline is there; a partial last line is read again next time.
 */

import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** How an attempt ended: a shell status, or the launch step that failed. */
export type JournalEnd = number | 'cd' | 'log';

/** What the journals say about one attempt (one token). */
export interface JournalEntry {
  readonly token: string;
  /** The journal file it is in. */
  readonly path: string;
  launcherPid: number;
  /** 0 until an S line is read (a P line alone: the spawn may or may not have happened). */
  taskPid: number;
  /** null while no F or E line is read. */
  end: JournalEnd | null;
  /** Set by the executor once it has reported the end to the scheduler. */
  delivered: boolean;
}

interface JournalFile {
  readonly launcherPid: number;
  offset: number;
  readonly entries: JournalEntry[];
}

/** `<launcherPid>.<id>.journal` → launcherPid; null for any other name. */
export function journalLauncherPid(name: string): number | null {
  const match = /^(\d+)\.[0-9a-z]+\.journal$/.exec(name);
  return match ? Number(match[1]) : null;
}

/**
 * The attempt a token names, without its unique suffix: tokens are
 * `<taskRunId>.<attempt>.<fingerprint>.<unique>` (see `attemptKey`).
 */
export function tokenKey(token: string): string {
  return token.slice(0, token.lastIndexOf('.'));
}

/**
 * An index of journal files, read incrementally: each file is read from where the last
 * read stopped, so polling a journal costs one small read however long it grew.
 */
export class JournalIndex {
  readonly #dir: string;
  readonly #files = new Map<string, JournalFile>();
  readonly #byToken = new Map<string, JournalEntry>();
  readonly #byKey = new Map<string, JournalEntry>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Reads every journal in the directory (new files whole, known ones from their offset). */
  scan(skip?: ReadonlySet<string>): void {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(this.#dir, name);
      if (!skip?.has(path)) this.refresh(path);
    }
  }

  /** Reads what was appended to one journal since the last read. */
  refresh(path: string): void {
    let file = this.#files.get(path);
    if (!file) {
      const launcherPid = journalLauncherPid(path.slice(path.lastIndexOf('/') + 1));
      if (launcherPid === null) return;
      file = { launcherPid, offset: 0, entries: [] };
      this.#files.set(path, file);
    }
    const text = readFrom(path, file.offset);
    if (text === null) return;
    const last = text.lastIndexOf('\n');
    if (last === -1) return;
    file.offset += last + 1;
    for (const line of text.slice(0, last).split('\n')) this.#apply(path, file, line);
  }

  /** The attempt with this key (`attemptKey`) the journals know of, if any. */
  byKey(key: string): JournalEntry | undefined {
    return this.#byKey.get(key);
  }

  byToken(token: string): JournalEntry | undefined {
    return this.#byToken.get(token);
  }

  /**
   * Journals safe to delete: every attempt in them ended and was reported by this process
   * (never one with an unfinished S line, nor one holding results nobody collected yet),
   * and `isDead(launcherPid)`. They are forgotten as they are returned.
   */
  takeSpent(isDead: (launcherPid: number) => boolean): string[] {
    const spent: string[] = [];
    for (const [path, file] of this.#files) {
      if (file.entries.length === 0) continue;
      if (!file.entries.every((e) => e.end !== null && e.delivered)) continue;
      if (!isDead(file.launcherPid)) continue;
      spent.push(path);
      this.#files.delete(path);
      for (const entry of file.entries) {
        this.#byToken.delete(entry.token);
        if (this.#byKey.get(tokenKey(entry.token)) === entry)
          this.#byKey.delete(tokenKey(entry.token));
      }
    }
    return spent;
  }

  #apply(path: string, file: JournalFile, line: string): void {
    const [kind, token, a, b] = line.split(' ');
    if (token === undefined || (kind !== 'S' && kind !== 'F' && kind !== 'E' && kind !== 'P'))
      return;
    let entry = this.#byToken.get(token);
    if (!entry) {
      entry = {
        token,
        path,
        launcherPid: file.launcherPid,
        taskPid: 0,
        end: null,
        delivered: false,
      };
      this.#byToken.set(token, entry);
      this.#byKey.set(tokenKey(token), entry);
      file.entries.push(entry);
    }
    if (kind === 'P') entry.launcherPid = Number(a);
    else if (kind === 'S') {
      entry.launcherPid = Number(a);
      entry.taskPid = Number(b);
    } else if (kind === 'F') entry.end = Number(a);
    else entry.end = a === 'cd' ? 'cd' : 'log';
  }
}

/** The file's bytes from `offset` on, as latin1 (journals are ASCII); null if unreadable. */
function readFrom(path: string, offset: number): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return '';
    const buffer = Buffer.allocUnsafe(size - offset);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, offset + read);
      if (n === 0) break;
      read += n;
    }
    return buffer.toString('latin1', 0, read);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
