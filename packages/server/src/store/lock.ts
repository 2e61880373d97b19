/**
 * The SQLite file's owner: one server process at a time. Two servers on one data directory would
 * each keep their own state in memory and overwrite each other's rows, so the second refuses to
 * start.
 *
 * The lock is the operating system's (fs-native-extensions: an open-file-description lock via
 * fcntl on Linux, flock on macOS, LockFileEx on Windows) on `<file>.lock`, taken exclusively and
 * held while the store is open. The kernel drops it when the process ends however it ends,
 * kill -9 included, so a lock left behind never blocks the next start and there is no staleness
 * to guess. The file holds the holder's pid, host and start time, for the refusal message; its
 * text is only a note, the lock is what counts (the file is kept, never deleted: deleting it would
 * let two processes lock two different files of one name).
 */
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import fsx from 'fs-native-extensions';
import { StoreOpenError, describe } from './errors.js';

export class FileLock {
  private constructor(
    readonly path: string,
    private fd: number | null,
  ) {}

  /**
   * Locks `<file>.lock` for this process, or throws a StoreOpenError naming the data directory
   * and the holder.
   */
  static acquire(file: string): FileLock {
    const path = `${resolve(file)}.lock`;
    const dir = dirname(path);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (err) {
      throw new StoreOpenError(dir, `cannot create the lock file ${path}: ${describe(err)}`, err);
    }
    let locked: boolean;
    try {
      locked = fsx.tryLock(fd);
    } catch (err) {
      closeSync(fd);
      throw new StoreOpenError(dir, `cannot lock ${path} (does this file system support locks?): ${describe(err)}`, err);
    }
    if (!locked) {
      closeSync(fd);
      throw new StoreOpenError(dir, `the data directory is in use by another Presently server (${holder(path)}): stop that server first, or give this one another data directory`);
    }
    const note = `pid ${process.pid} on host ${hostname()} since ${new Date().toISOString()}\n`;
    ftruncateSync(fd, 0);
    writeSync(fd, note, 0);
    return new FileLock(path, fd);
  }

  /** Ends the lock (the process ending does the same). */
  release(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      // Cleared while still held: the note never names a process that has let go.
      ftruncateSync(fd, 0);
      fsx.unlock(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** The holder as its lock file says, e.g. "pid 123 on host db1 since 2025-01-01T00:00:00.000Z". */
function holder(path: string): string {
  try {
    const note = readFileSync(path, 'utf8').trim();
    if (note) return `${note}; lock file ${path}`;
  } catch {
    /* unreadable: say what is known */
  }
  return `a process that has not written its pid yet; lock file ${path}`;
}
