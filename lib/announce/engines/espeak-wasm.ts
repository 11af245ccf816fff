/**
 * The embedded engine: eSpeak NG compiled to wasm (npm package `espeak-ng`, GPL-3.0-or-later),
 * run in a worker thread. Needs no system package. `espeak-ng` is an optional dependency loaded
 * only when this engine is used, so the package still installs and runs without it (see README).
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { SpeechEngine, SpeechOptions, SpeechResult, Voice } from '../types';
import { AnnounceError } from '../errors';
import { espeakArgs, parseEspeakVoices } from './espeak-voices';
import { decodeEngineWavFast as decodeEngineWav } from './wav-stream';

interface Reply {
  id: number;
  wav?: Uint8Array;
  out: string;
  err: string;
  error?: string;
  readyAhead?: boolean;
  mainMs?: number;
}

/** How the worker served the last synthesis (bench/announce's breakdown, tests). */
export interface EspeakWasmRun {
  /** the instance that ran it was prepared (runtime up) before the request came */
  readyAhead: boolean;
  /** time in eSpeak's main() (the synthesis proper), ms */
  mainMs: number;
}

export interface EspeakWasmOptions {
  /** longest a synthesis may take before the worker is restarted (ms, default 15000) */
  timeoutMs?: number;
  /**
   * the worker (≈150 MB: the compiled wasm, one instance and a prepared spare) is let go after
   * this long without a request (ms, default 5 min); the next one starts it again (~0.3 s)
   */
  idleMs?: number;
  /** where the `espeak-ng` package is (default: resolved from here; undefined = not installed) */
  locate?: () => string | undefined;
}

/** Where the `espeak-ng` npm package is, or undefined when it is not installed. */
export function findEspeakWasm(): string | undefined {
  try {
    return require.resolve('espeak-ng');
  } catch {
    return undefined;
  }
}

export class EspeakWasmEngine implements SpeechEngine {
  readonly name = 'espeak-wasm';
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private voiceList: Promise<Voice[]> | undefined;
  private readonly timeoutMs: number;
  private readonly locate: () => string | undefined;
  private readonly idleMs: number;
  private idleTimer: NodeJS.Timeout | undefined;
  /** how the worker served the last synthesis */
  lastRun: EspeakWasmRun | undefined;

  constructor(opts: EspeakWasmOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.idleMs = opts.idleMs ?? 300_000;
    this.locate = opts.locate ?? findEspeakWasm;
  }

  voices(): Promise<Voice[]> {
    this.voiceList ??= this.call(['--voices'], false).then((r) => parseEspeakVoices(r.out));
    this.voiceList.catch(() => (this.voiceList = undefined));
    return this.voiceList;
  }

  async hasVoice(voice: string): Promise<boolean> {
    return (await this.voices()).some((v) => v.name === voice);
  }

  async synthesize(text: string, opts: SpeechOptions): Promise<SpeechResult> {
    // `--` ends the options, so a text starting with "-" is spoken, not parsed
    const r = await this.call([...espeakArgs(opts), '--', text], true);
    if (r.readyAhead !== undefined) this.lastRun = { readyAhead: r.readyAhead, mainMs: r.mainMs ?? 0 };
    if (!r.wav || r.wav.length <= 44) {
      throw new AnnounceError('announce.engineFailed', `speech engine ${this.name} failed: ${r.err || r.error || 'no audio produced'}`, {
        engine: this.name,
        reason: r.err || r.error || 'no audio produced',
      });
    }
    const { format, pcm } = decodeEngineWav(Buffer.from(r.wav.buffer, r.wav.byteOffset, r.wav.byteLength));
    return { pcm, rate: format.rate };
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const w = this.worker;
    this.worker = undefined;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('speech engine closed'));
    }
    this.pending.clear();
    if (w) await w.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const entry = this.locate();
    if (!entry) {
      throw new AnnounceError(
        'announce.noEmbeddedEngine',
        'the embedded speech engine needs the npm package "espeak-ng" (GPL-3.0): run "npm install espeak-ng" in your Node-RED user directory, or choose the system espeak-ng or a command engine',
        {},
      );
    }
    const w = new Worker(join(__dirname, 'espeak-wasm-worker.js'), { workerData: { entry } });
    w.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if (this.pending.size === 0) {
        w.unref();
        this.idleTimer = setTimeout(() => this.abandon(w, new Error('speech worker idle')), this.idleMs);
        this.idleTimer.unref();
      }
      p.resolve(r);
    });
    w.on('error', (e) => this.abandon(w, e));
    w.on('exit', (code) => this.abandon(w, new Error(`speech worker exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  /** Fails every request in flight on `w` (one worker at a time) and lets it go. */
  private abandon(w: Worker, e: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    void w.terminate();
  }

  private call(args: string[], wav: boolean): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      let w: Worker;
      try {
        w = this.start();
      } catch (e) {
        reject(e);
        return;
      }
      clearTimeout(this.idleTimer);
      const id = this.nextId++;
      const timer = setTimeout(() => {
        // a stuck wasm main() cannot be interrupted: replace the worker
        this.abandon(w, new AnnounceError('announce.engineTimeout', `speech engine ${this.name} took longer than ${this.timeoutMs} ms`, { engine: this.name, ms: this.timeoutMs }));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      w.ref();
      w.postMessage({ id, args, wav });
    });
  }
}
