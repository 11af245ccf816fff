/**
 * The announcer: a priority queue of announcements (text to speak, or audio to play), rendered
 * to PCM at the stream's rate ahead of their turn (one at a time, in play order), and handed out
 * one frame at a time to the pacer. Emits `queued`, `started`, `finished`, `dropped` and `error`
 * events carrying the announcement's id, text and durations.
 */
import { EventEmitter } from 'node:events';
import type { SpeechEngine, SpeechOptions } from './types';
import { SPEED_MAX, SPEED_MIN } from './types';
import { AnnounceError } from './errors';
import { PriorityQueue } from './queue';
import { applyVolume, silence, toMono, toRateAsync } from './audio';

export interface AnnouncementRequest extends SpeechOptions {
  /** text to speak … */
  text?: string;
  /** … or audio to play as is (s16le, any rate and channel count) */
  audio?: { pcm: Buffer; rate: number; channels: number };
  /** the announcement's name in events (default: generated) */
  id?: string;
  /** higher plays first (default 0); equal priorities play in arrival order */
  priority?: number;
  /** how many times the speech is played (default 1) */
  repeat?: number;
  /** silence between repetitions (ms) */
  gapMs?: number;
  /** gain in percent, 100 = as the engine made it */
  volume?: number;
  /** cut the current announcement and clear the queue before queueing this one */
  interrupt?: boolean;
  /** play the chime first (default: when the announcer has one) */
  chime?: boolean;
}

export interface AnnouncerOptions {
  engine: SpeechEngine;
  /** the stream's sample rate (mono) */
  rate: number;
  frameMs: number;
  /** most announcements waiting (not counting the one playing); default 20 */
  maxQueue?: number;
  /** longest text accepted (characters); default 500 */
  maxChars?: number;
  /** defaults for every announcement */
  defaults?: SpeechOptions & { volume?: number; gapMs?: number; repeat?: number };
  /** the chime played before each announcement, mono s16le at `rate` (none when undefined) */
  chime?: Buffer;
  /** for events' durations; default Date.now */
  now?: () => number;
  /**
   * the longest an announcement whose audio is ready waits for what was made alongside it (its
   * board picture, see announce()) before it starts anyway (ms, default 1000)
   */
  alongsideMaxMs?: number;
}

export type AnnouncementEventName = 'queued' | 'started' | 'finished' | 'dropped' | 'error';

/** What every event carries. */
export interface AnnouncementEvent {
  event: AnnouncementEventName;
  id: string;
  text: string;
  priority: number;
  /** queued: 0-based place in the queue */
  position?: number;
  /** started/finished/dropped: ms from arrival to the first frame on air */
  waitedMs?: number;
  /** started/finished: length of the audio (chime, repetitions and gaps included), ms */
  durationMs?: number;
  /** started: time the engine took to make the speech, ms */
  renderMs?: number;
  /** finished/dropped: ms actually played */
  playedMs?: number;
  /** dropped: why (interrupted, closed) */
  reason?: string;
  /** error: what failed */
  error?: string;
  code?: string;
}

interface Item {
  id: string;
  text: string;
  req: AnnouncementRequest;
  priority: number;
  seq: number;
  arrivedAt: number;
  state: 'new' | 'rendering' | 'ready' | 'dropped';
  pcm?: Buffer;
  /** made alongside the audio (the board's picture): the announcement starts once both are done */
  alongside?: Promise<unknown>;
  renderMs?: number;
  startedAt?: number;
  settle: { resolve: (r: AnnouncementOutcome) => void; reject: (e: Error) => void };
}

/** How an accepted announcement's rendering ended. */
export interface AnnouncementOutcome {
  id: string;
  /** ready to play (queued with audio), or dropped before it was ready */
  state: 'ready' | 'dropped';
  durationMs?: number;
}

export const MAX_REPEAT = 10;

export class Announcer extends EventEmitter {
  private readonly queue = new PriorityQueue<Item>();
  private current: { item: Item; offset: number } | undefined;
  private rendering: Item | undefined;
  private held = false;
  private closed = false;
  private nextAuto = 1;
  private readonly frameBytes: number;
  private readonly now: () => number;
  readonly maxQueue: number;
  readonly maxChars: number;

  constructor(private readonly opts: AnnouncerOptions) {
    super();
    this.frameBytes = Math.round((opts.rate * opts.frameMs) / 1000) * 2;
    this.maxQueue = opts.maxQueue ?? 20;
    this.maxChars = opts.maxChars ?? 500;
    this.now = opts.now ?? Date.now;
  }

  /** announcements waiting (not counting the one playing) */
  get queued(): number {
    return this.queue.length;
  }

  /** the announcement on air, if any */
  get playing(): { id: string; text: string } | undefined {
    return this.current && { id: this.current.item.id, text: this.current.item.text };
  }

  /**
   * Queues an announcement. Throws (AnnounceError) when it cannot be accepted (empty or too long
   * text, bad options, queue full). The promise settles when its audio is ready (or it was
   * dropped first), or rejects when the engine fails; an `error` event is emitted too.
   * `alongside` is called with the id once the announcement is accepted: what it starts (the
   * board's picture for this announcement) is waited for, up to alongsideMaxMs, before the
   * announcement is ready, so its first audio and its picture go out together.
   */
  announce(req: AnnouncementRequest, alongside?: (id: string) => Promise<unknown> | undefined): { id: string; ready: Promise<AnnouncementOutcome> } {
    if (this.closed) throw new AnnounceError('announce.closed', 'the announcer is closed', {});
    const text = this.validate(req);
    const id = req.id !== undefined && req.id !== null && String(req.id) !== '' ? String(req.id) : this.newId();
    const priority = req.priority ?? 0;
    if (req.interrupt) this.interrupt();
    else if (this.queue.length >= this.maxQueue) {
      throw new AnnounceError('announce.queueFull', `the announcement queue is full (${this.maxQueue} waiting): "${id}" was not accepted`, {
        max: this.maxQueue,
        id,
      });
    }
    let settle!: Item['settle'];
    const ready = new Promise<AnnouncementOutcome>((resolve, reject) => (settle = { resolve, reject }));
    // callers that only listen to events must not see an unhandled rejection
    ready.catch(() => undefined);
    const item = { id, text, req, priority, arrivedAt: this.now(), state: 'new', settle } as Omit<Item, 'seq'> as Item;
    item.alongside = alongside?.(id);
    const position = this.queue.push(item);
    this.send('queued', item, { position });
    this.pump();
    return { id, ready };
  }

  /** An id for an announcement sent without one ("a1", "a2"…). */
  newId(): string {
    return `a${this.nextAuto++}`;
  }

  /** Cuts the announcement on air and drops every waiting one. */
  interrupt(reason = 'interrupted'): void {
    if (this.current) {
      const { item, offset } = this.current;
      this.current = undefined;
      this.drop(item, reason, offset);
    }
    for (const item of this.queue.clear()) this.drop(item, reason, 0);
  }

  /**
   * While held, no announcement starts (the output is down: a push target reconnecting); the one
   * on air goes back to the head of the queue, to be played again from its start.
   */
  hold(on: boolean): void {
    this.held = on;
    if (on && this.current) {
      const { item } = this.current;
      this.current = undefined;
      item.startedAt = undefined;
      this.queue.restore(item);
      this.emit('log', `announcement "${item.id}" cut by an output interruption: it will play again`);
    }
  }

  get isHeld(): boolean {
    return this.held;
  }

  /**
   * The next frame of audio (exactly one frame of mono s16le at the stream's rate), or undefined
   * for silence. Called by the pacer once per frame, at the frame's time on air.
   */
  nextFrame(): Buffer | undefined {
    if (!this.current) {
      if (this.held) return undefined;
      const head = this.queue.peek();
      if (!head || head.state !== 'ready') return undefined;
      this.queue.shift();
      head.startedAt = this.now();
      this.current = { item: head, offset: 0 };
      this.send('started', head, { waitedMs: head.startedAt - head.arrivedAt, durationMs: this.ms(head.pcm!.length), renderMs: head.renderMs });
      this.pump();
    }
    const cur = this.current;
    const pcm = cur.item.pcm!;
    let frame = pcm.subarray(cur.offset, cur.offset + this.frameBytes);
    cur.offset += this.frameBytes;
    if (frame.length < this.frameBytes) {
      const full = Buffer.alloc(this.frameBytes);
      frame.copy(full);
      frame = full;
    }
    if (cur.offset >= pcm.length) {
      this.current = undefined;
      const item = cur.item;
      item.pcm = undefined;
      this.send('finished', item, { waitedMs: item.startedAt! - item.arrivedAt, durationMs: this.ms(pcm.length), playedMs: this.ms(pcm.length) });
    }
    return frame;
  }

  /** Drops everything and stops rendering. */
  close(): void {
    if (this.closed) return;
    this.interrupt('closed');
    this.closed = true;
  }

  private ms(bytes: number): number {
    return Math.round((bytes / 2 / this.opts.rate) * 1000);
  }

  private validate(req: AnnouncementRequest): string {
    const num = (v: unknown, name: string, min: number, max: number, integer = false): void => {
      if (v === undefined) return;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
        throw new AnnounceError('announce.badOption', `${name} ${JSON.stringify(v)} is not valid: expected ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`, {
          name,
          value: JSON.stringify(v) ?? String(v),
          min,
          max,
        });
      }
    };
    num(req.priority, 'priority', -1000, 1000);
    num(req.repeat, 'repeat', 1, MAX_REPEAT, true);
    num(req.gapMs, 'gap', 0, 10000);
    num(req.volume, 'volume', 0, 200);
    num(req.speed, 'speed', SPEED_MIN, SPEED_MAX);
    num(req.pitch, 'pitch', 0, 100);
    if (req.audio) return req.text ?? '';
    if (typeof req.text !== 'string' || req.text.trim() === '') {
      throw new AnnounceError('announce.noText', 'nothing to say: the text is empty', {});
    }
    const chars = [...req.text].length;
    if (chars > this.maxChars) {
      throw new AnnounceError('announce.tooLong', `the text has ${chars} characters, more than the ${this.maxChars} allowed: split it into several announcements`, {
        chars,
        max: this.maxChars,
      });
    }
    return req.text;
  }

  private drop(item: Item, reason: string, playedBytes: number): void {
    const wasReady = item.state === 'ready';
    item.state = 'dropped';
    item.pcm = undefined;
    this.send('dropped', item, {
      reason,
      playedMs: this.ms(playedBytes),
      ...(item.startedAt !== undefined ? { waitedMs: item.startedAt - item.arrivedAt } : {}),
    });
    if (!wasReady) item.settle.resolve({ id: item.id, state: 'dropped' });
  }

  /** Renders the first waiting announcement that has no audio yet (one at a time, in play order). */
  private pump(): void {
    if (this.rendering || this.closed) return;
    const next = this.queue.find((i) => i.state === 'new');
    if (!next) return;
    next.state = 'rendering';
    this.rendering = next;
    this.prepareAudio(next).then(
      ({ pcm, renderMs }) => {
        this.rendering = undefined;
        if (next.state === 'rendering') {
          next.pcm = pcm;
          next.renderMs = renderMs;
          next.state = 'ready';
          next.settle.resolve({ id: next.id, state: 'ready', durationMs: this.ms(pcm.length) });
        }
        this.pump();
      },
      (err: Error) => {
        this.rendering = undefined;
        if (next.state === 'rendering') {
          next.state = 'dropped';
          this.queue.remove(next);
          this.send('error', next, { error: err.message, code: (err as { code?: string }).code });
          next.settle.reject(err);
        }
        this.pump();
      },
    );
  }

  /** The announcement's audio (and the time that took), once what was made alongside is done too. */
  private async prepareAudio(item: Item): Promise<{ pcm: Buffer; renderMs: number }> {
    const t0 = this.now();
    const pcm = await this.render(item);
    const renderMs = this.now() - t0;
    if (item.alongside && item.state === 'rendering') await this.bounded(item.alongside);
    return { pcm, renderMs };
  }

  /** `p` settled (either way), or alongsideMaxMs passed. */
  private bounded(p: Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.opts.alongsideMaxMs ?? 1000);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      p.then(done, done);
    });
  }

  private async render(item: Item): Promise<Buffer> {
    const req = item.req;
    const d = this.opts.defaults ?? {};
    const rate = this.opts.rate;
    let speech: Buffer;
    if (req.audio) {
      speech = await toRateAsync(toMono(req.audio.pcm, req.audio.channels), req.audio.rate, rate);
    } else {
      const opts: SpeechOptions = { voice: req.voice || d.voice, speed: req.speed ?? d.speed, pitch: req.pitch ?? d.pitch };
      if (opts.voice && !(await this.opts.engine.hasVoice(opts.voice))) {
        throw new AnnounceError('announce.unknownVoice', `the speech engine ${this.opts.engine.name} has no voice "${opts.voice}"`, {
          engine: this.opts.engine.name,
          voice: opts.voice,
        });
      }
      const r = await this.opts.engine.synthesize(item.text, opts);
      speech = await toRateAsync(r.pcm, r.rate, rate);
    }
    speech = applyVolume(speech, req.volume ?? d.volume ?? 100);
    if (speech.length === 0) throw new AnnounceError('announce.noAudio', 'the announcement has no audio to play', {});
    const parts: Buffer[] = [];
    if (this.opts.chime && req.chime !== false) parts.push(this.opts.chime);
    const repeat = req.repeat ?? d.repeat ?? 1;
    const gap = silence(rate, req.gapMs ?? d.gapMs ?? 800);
    for (let i = 0; i < repeat; i++) {
      if (i > 0) parts.push(gap);
      parts.push(speech);
    }
    return Buffer.concat(parts);
  }

  private send(event: AnnouncementEventName, item: Item, extra: Partial<AnnouncementEvent>): void {
    const ev: AnnouncementEvent = { event, id: item.id, text: item.text, priority: item.priority, ...extra };
    // an 'error' event without a listener would throw (EventEmitter): the rejection of `ready` carries it then
    if (event !== 'error' || this.listenerCount('error') > 0) this.emit(event, ev);
    this.emit('event', ev);
  }
}
