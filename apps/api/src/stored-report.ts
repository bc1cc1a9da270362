import { text } from 'node:stream/consumers';
import { type ArtifactStore, GreenloopError } from '@greenloop/core';

/**
 * The loop directory on the worker that wrote `file` (`…/artifacts/<loop>`), from the path a cycle
 * record holds: with a remote artifact store that path is on another machine, and only its part after
 * the loop's directory names the object. Undefined when the path is not under the loop's directory.
 */
export function workerLoopDir(file: string, loopId: string): string | undefined {
  const marker = `/artifacts/${loopId}/`;
  const at = file.lastIndexOf(marker);
  return at === -1 ? undefined : file.slice(0, at + marker.length - 1);
}

/**
 * A cycle report (or any file a cycle record names) read from a remote artifact store. Undefined when
 * the record names nothing under the loop or the object is missing.
 */
export async function readStoredReport(store: ArtifactStore, loopId: string, file: string): Promise<string | undefined> {
  const dir = workerLoopDir(file, loopId);
  if (dir === undefined) return undefined;
  try {
    return await text(await store.read(loopId, file.slice(dir.length + 1)));
  } catch (err) {
    if (err instanceof GreenloopError && (err.code === 'ARTIFACT_NOT_FOUND' || err.code === 'ARTIFACT_PATH_NOT_ALLOWED')) return undefined;
    throw err;
  }
}
