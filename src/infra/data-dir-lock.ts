import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The embedded database is one PGlite instance reading and writing its files directly: two
 * processes opening one directory each see a database the other is changing underneath it (a
 * seed that the running server never sees and that is gone after its restart). The first process
 * to open a data directory owns it until it closes it or dies; everyone else is told who owns it.
 */
export class DataDirectoryLockedError extends Error {
  override name = 'DataDirectoryLockedError';
}

interface Owner {
  pid: number;
  host: string;
  /** The owner's start time as the kernel records it (Linux), so a recycled pid is not mistaken for it. */
  started: string | null;
  command: string;
}

/**
 * Takes the lock file in `directory`, or throws a DataDirectoryLockedError naming the owner. A lock
 * left by a process that no longer runs (killed, crashed, a container restarted with the same pid) is
 * taken over. Returns the release function; the lock is also dropped if this process exits.
 */
export function lockDataDirectory(directory: string, purpose: string): () => void {
  fs.mkdirSync(directory, { recursive: true });
  const file = path.join(directory, 'bugzapp.lock');
  const me: Owner = { pid: process.pid, host: os.hostname(), started: startTime(process.pid), command: purpose };
  for (let attempt = 1; ; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(me), { flag: 'wx' });
      heldHere.add(file);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readOwner(file);
      if (owner === 'gone' && attempt < 3) continue;
      if (owner === 'gone' || owner === 'unreadable' || isRunning(owner, file) || attempt >= 3) {
        throw lockedError(directory, file, typeof owner === 'string' ? undefined : owner);
      }
      // The owner is dead: take its lock over. (Two processes taking over one stale lock in the
      // same instant could both win; a restart is one process, so that is left unguarded.)
      fs.rmSync(file, { force: true });
    }
  }
  const release = () => {
    process.off('exit', release);
    if (!heldHere.delete(file)) return;
    const owner = readOwner(file);
    if (typeof owner !== 'string' && owner.pid === me.pid) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return release;
}

function lockedError(directory: string, file: string, owner?: Owner): DataDirectoryLockedError {
  const who = owner === undefined ? 'another process' : `${owner.command} (pid ${owner.pid} on ${owner.host})`;
  return new DataDirectoryLockedError(
    `The embedded database in ${directory} is in use by ${who}. ` +
      'Stop it first. (A server migrates its database when it starts; to load the demo data into it, ' +
      'start it with `npm start -- --seed`.) ' +
      `(If no such process runs, delete ${file}.)`,
  );
}

function readOwner(file: string): Owner | 'gone' | 'unreadable' {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Owner;
  } catch (error) {
    // Unreadable: half-written by an owner creating it this very moment, so held.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
}

function isRunning(owner: Owner, file: string): boolean {
  // Another machine's process (a shared volume) cannot be checked from here: assume it runs.
  if (owner.host !== os.hostname()) return true;
  // Our own pid: either this process holds the lock already (a second open of one directory) or an
  // earlier process with the same pid died (pid 1 of a restarted container).
  if (owner.pid === process.pid) return heldHere.has(file);
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid runs (or is not ours to signal): it is the owner unless the pid was recycled since.
  const started = startTime(owner.pid);
  return owner.started === null || started === null || started === owner.started;
}

/** Lock files this process holds. */
const heldHere = new Set<string>();

/** The process's start time in clock ticks since boot, from /proc (Linux); null elsewhere. */
function startTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces and parentheses); start time is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}
