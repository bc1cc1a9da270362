import { readFileSync } from 'node:fs';
import { findProcesses } from '@greenloop/core';

/**
 * Sends SIGINT to every process carrying `tag` (an attempt's GREENLOOP_PROC): the way to tell a runner
 * inside the sandbox to stop and report, since bubblewrap starts it in a session of its own and dies of
 * the signal itself instead of passing it on (so bwrap is left out). Returns how many were signalled.
 */
export function interruptTagged(tag: string): number {
  const pids = findProcesses([], (t) => t === tag).filter((pid) => comm(pid) !== 'bwrap');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {}
  }
  return pids.length;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
