/**
 * Which processes belong to a shell's session, read from Linux /proc: what termination must
 * signal, including background jobs the shell no longer tracks.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessEntry {
  readonly pid: number;
  readonly pgid: number;
  /** True for a zombie: it is dead and can no longer be signalled. */
  readonly zombie: boolean;
}

/** A scan of all of /proc is shared by every terminating session for this long. */
const SNAPSHOT_TTL_MS = 20;

let snapshot: { at: number; bySession: Map<number, ProcessEntry[]> } | undefined;

/** Parses one /proc/PID/stat line; the command name may hold spaces and parentheses. */
export function parseStat(
  line: string,
): { pid: number; state: string; pgid: number; sid: number } | null {
  const close = line.lastIndexOf(')');
  if (close < 0) {
    return null;
  }
  const pid = Number.parseInt(line, 10);
  // After ") ": state ppid pgrp session ...
  const fields = line.slice(close + 2).split(' ');
  const state = fields[0];
  const pgid = Number(fields[2]);
  const sid = Number(fields[3]);
  if (state === undefined || !Number.isInteger(pid) || Number.isNaN(pgid) || Number.isNaN(sid)) {
    return null;
  }
  return { pid, state, pgid, sid };
}

function scan(): Map<number, ProcessEntry[]> {
  const bySession = new Map<number, ProcessEntry[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return bySession; // not Linux: callers fall back to the shell's own process group
  }
  for (const name of names) {
    const first = name.charCodeAt(0);
    if (first < 48 || first > 57) {
      continue;
    }
    let line: string;
    try {
      line = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // exited while we looked
    }
    const stat = parseStat(line);
    if (stat === null) {
      continue;
    }
    const entry: ProcessEntry = { pid: stat.pid, pgid: stat.pgid, zombie: stat.state === 'Z' };
    const members = bySession.get(stat.sid);
    if (members === undefined) {
      bySession.set(stat.sid, [entry]);
    } else {
      members.push(entry);
    }
  }
  return bySession;
}

/**
 * The processes whose session id is `sid` (a shell started by node-pty leads its own session,
 * so sid is the shell's pid). The number cannot be reused while any member is alive: Linux keeps
 * a pid allocated while it names a session or process group.
 */
export function sessionMembers(sid: number): readonly ProcessEntry[] {
  const now = Date.now();
  if (snapshot === undefined || now - snapshot.at > SNAPSHOT_TTL_MS) {
    snapshot = { at: now, bySession: scan() };
  }
  return snapshot.bySession.get(sid) ?? [];
}

/** Forgets the shared scan, so the next question reads /proc again. */
export function invalidateProcessTable(): void {
  snapshot = undefined;
}
