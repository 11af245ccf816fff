/**
 * Draws the built-in board on a thread of its own (lib/video/board-thread.ts): render (resvg)
 * and JPEG encoding take tens of ms per board, which on the main thread would hold up the
 * pacer's audio packets and the speech of the very call whose board is being drawn.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CodedError } from '../util/errors';
import type { BoardState, BoardTemplate } from './board';

export class BoardDrawer {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (jpeg: Buffer) => void; reject: (e: Error) => void }>();
  private failed: CodedError | undefined;
  private closed = false;

  /** Throws video.badFont now (at deploy) when the font file cannot be read. */
  constructor(width: number, height: number, template: BoardTemplate, fontFile: string | undefined, quality: number) {
    if (fontFile) {
      try {
        accessSync(fontFile, constants.R_OK);
      } catch (e) {
        throw new CodedError('video.badFont', `the board's font file "${fontFile}" cannot be read: ${(e as Error).message}`, { file: fontFile, reason: (e as Error).message });
      }
    }
    this.worker = new Worker(join(__dirname, 'board-thread.js'), { workerData: { width, height, template, fontFile, quality } });
    // a board never closed (a stream whose start failed) must not keep Node-RED's process alive
    this.worker.unref();
    this.worker.on('message', (m: { id: number; jpeg?: Uint8Array; error?: { code: string; message: string; params: Record<string, string | number> } }) => {
      const err = m.error && new CodedError(m.error.code, m.error.message, m.error.params);
      if (m.id === 0 && err) return this.fail(err);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (err) p.reject(err);
      else p.resolve(m.jpeg ? Buffer.from(m.jpeg.buffer, m.jpeg.byteOffset, m.jpeg.byteLength) : Buffer.alloc(0));
    });
    this.worker.on('error', (e) => this.fail(new CodedError('video.drawFailed', `the board's drawing thread failed: ${e.message}`, { reason: e.message })));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new CodedError('video.drawFailed', `the board's drawing thread exited (code ${code})`, { reason: `exit code ${code}` }));
    });
  }

  private fail(e: CodedError): void {
    this.failed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private ask(state?: BoardState): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('the board was closed'));
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, state });
    });
  }

  /** Resolves when the renderer is loaded (the first board then draws without that wait). */
  async ready(): Promise<void> {
    await this.ask();
  }

  /** The board for `state` as a JPEG file. */
  draw(state: BoardState): Promise<Buffer> {
    return this.ask(state);
  }

  /** Ends the thread (what waits is rejected). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new Error('the board was closed'));
    this.pending.clear();
    await this.worker.terminate();
  }
}
