/**
 * Draws the board on a thread of its own (lib/video/board-thread.ts): the built-in board's render
 * (resvg), a user's picture's decoding and scaling (pngjs, jpeg-js), and JPEG encoding take tens
 * of ms per board (a large picture far more), which on the main thread would hold up the pacer's
 * audio packets, the other streams and the speech of the very call whose board is being drawn.
 *
 * A thread that dies (an uncaught error, out of memory, terminated) is started again with back-off
 * (lib/util/backoff): what it was drawing fails, the failure is an `error` event (once, until it is
 * back), and `recovered` says it is back, so the board can be redrawn; close() stops restarting.
 */
import { accessSync, constants } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Backoff } from '../util/backoff';
import { CodedError } from '../util/errors';
import type { BoardState, BoardTemplate } from './board';

type Reply = { id: number; jpeg?: Uint8Array; error?: { code: string; message: string; params: Record<string, string | number> } };

export class BoardDrawer extends EventEmitter {
  private worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (jpeg: Buffer) => void; reject: (e: Error) => void }>();
  /** set while the thread is down (until a new one answers) */
  private failed: CodedError | undefined;
  /** the renderer cannot start at all (a font resvg refuses): restarting would not help */
  private broken: CodedError | undefined;
  private closed = false;
  /** the thread whose death was handled ('error' and 'exit' both come) */
  private dead: Worker | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  /** threads started after a failure (tests, status) */
  restarts = 0;

  /** Throws video.badFont now (at deploy) when the font file cannot be read. */
  constructor(
    private readonly width: number,
    private readonly height: number,
    private readonly template: BoardTemplate,
    private readonly fontFile: string | undefined,
    private readonly quality: number,
  ) {
    super();
    if (fontFile) {
      try {
        accessSync(fontFile, constants.R_OK);
      } catch (e) {
        throw new CodedError('video.badFont', `the board's font file "${fontFile}" cannot be read: ${(e as Error).message}`, { file: fontFile, reason: (e as Error).message });
      }
    }
    this.worker = this.spawn();
  }

  /** The thread died and is not back yet. */
  get down(): boolean {
    return this.failed !== undefined;
  }

  /** The drawing thread now (tests end it to play a crash). */
  get thread(): Worker {
    return this.worker;
  }

  private spawn(): Worker {
    const { width, height, template, fontFile, quality } = this;
    const worker = new Worker(join(__dirname, 'board-thread.js'), { workerData: { width, height, template, fontFile, quality } });
    // a board never closed (a stream whose start failed) must not keep Node-RED's process alive
    worker.unref();
    worker.on('message', (m: Reply) => {
      if (worker !== this.worker) return;
      const err = m.error && new CodedError(m.error.code, m.error.message, m.error.params);
      if (m.id === 0 && err) {
        this.broken = err;
        return this.rejectAll(err);
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (err) p.reject(err);
      else p.resolve(m.jpeg ? Buffer.from(m.jpeg.buffer, m.jpeg.byteOffset, m.jpeg.byteLength) : Buffer.alloc(0));
    });
    worker.on('error', (e) => this.died(worker, e.message));
    worker.on('exit', (code) => this.died(worker, `exit code ${code}`));
    return worker;
  }

  private rejectAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** The thread `worker` failed or exited ('error' and 'exit' both come: reported once). */
  private died(worker: Worker, reason: string): void {
    if (this.closed || worker !== this.worker || this.dead === worker) return;
    this.dead = worker;
    const e = new CodedError('video.drawFailed', `the board's drawing thread failed (${reason}): it is being restarted`, { reason });
    this.rejectAll(e);
    void worker.terminate();
    // a thread that dies again while coming back is the same outage: said once
    if (!this.failed) {
      this.failed = e;
      this.emit('error', e);
    }
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.closed) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.closed) return;
      this.restarts++;
      this.worker = this.spawn();
      const w = this.worker;
      // back only once the new thread answers (its renderer loaded)
      this.call(w, {}).then(
        () => {
          if (this.closed || w !== this.worker) return;
          this.failed = undefined;
          this.backoff.reset();
          this.emit('recovered');
        },
        () => undefined,
      );
    }, this.backoff.next());
    this.restartTimer.unref();
  }

  private call(worker: Worker, m: { state?: BoardState; image?: Uint8Array }): Promise<Buffer> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...m });
    });
  }

  private ask(m: { state?: BoardState; image?: Uint8Array }): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('the board was closed'));
    if (this.failed) return Promise.reject(this.failed);
    if (this.broken && m.image === undefined) return Promise.reject(this.broken);
    return this.call(this.worker, m);
  }

  /** Resolves when the renderer is loaded (the first board then draws without that wait). */
  async ready(): Promise<void> {
    await this.ask({});
  }

  /** The board for `state` as a JPEG file. */
  draw(state: BoardState): Promise<Buffer> {
    return this.ask({ state });
  }

  /**
   * A user's picture (a PNG or JPEG file) decoded, fitted to the board and encoded as the board's
   * JPEG; rejects with video.badImage when it cannot be shown.
   */
  picture(image: Uint8Array): Promise<Buffer> {
    return this.ask({ image });
  }

  /** Ends the thread (what waits is rejected) and stops restarting it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.rejectAll(new Error('the board was closed'));
    await this.worker.terminate();
  }
}
