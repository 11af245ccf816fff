/**
 * The temporary folder a speech engine's child process writes its WAV into. Removing it must
 * never replace the engine's result: on Windows, antivirus or a child that was just killed can
 * hold the WAV open for a moment (EBUSY/EPERM), so removal is retried and, if the folder still
 * cannot go, left to the system's temp cleanup.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type RemoveDir = (dir: string) => Promise<void>;

/** rm with Node's own retries, which cover EBUSY, EPERM, ENOTEMPTY, EMFILE and ENFILE. */
const removeWithRetries: RemoveDir = (dir) => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });

/** Removes `dir`; true when it is gone. Never throws. */
export async function removeTempDir(dir: string, remove: RemoveDir = removeWithRetries): Promise<boolean> {
  try {
    await remove(dir);
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` with a fresh temporary folder and removes the folder after, keeping fn's outcome. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, remove?: RemoveDir): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tts-rtsp-out-'));
  try {
    return await fn(dir);
  } finally {
    await removeTempDir(dir, remove);
  }
}
