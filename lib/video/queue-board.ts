/**
 * The queue board of an announcement stream: what the video track shows, and when. A call
 * (number + counter) or a user's picture rides on an announcement and replaces the board at the
 * moment that announcement's first audio goes out; either may also be shown at once, without
 * speech. The built-in board is rendered (resvg) and JPEG-encoded only when it changes (a call,
 * the clock's minute), a user's picture decoded, scaled and JPEG-encoded once when it arrives,
 * both on a thread of its own (BoardDrawer); the output re-sends the last picture in between.
 * A drawing thread that dies is started again, and the board redrawn once it is back.
 */
import { EventEmitter } from 'node:events';
import { CodedError } from '../util/errors';
import { DEFAULT_TEMPLATE, type BoardCall, type BoardState, type BoardTemplate } from './board';
import { BoardDrawer } from './board-drawer';
import { imageBytes } from './image';

/** What the board needs of the stream's output (RtspOutput has it). */
export interface VideoOutput {
  readonly mediaMs: number;
  readonly lastFrameMs: number;
  showVideo(jpeg: Buffer, atMs?: number): void;
  expectVideo(atMs?: number): void;
  cancelVideo(): void;
}

export interface QueueBoardOptions {
  width: number;
  height: number;
  template?: Partial<BoardTemplate>;
  /** font file for the built-in board (.ttf/.otf/.ttc); not needed when only pictures are shown */
  fontFile?: string;
  /** JPEG quality 1–100 (default 85) */
  quality?: number;
  /** clock text for the board (default: local HH:MM) */
  clock?: () => string;
}

/** What a message puts on the board: a call for the built-in board, or a picture. */
export interface BoardContent {
  call?: BoardCall;
  /** a PNG or JPEG file */
  image?: Buffer;
}

/** Content checked, a picture already made the board's JPEG (scaled and encoded), ready to show. */
export interface PreparedBoard {
  call?: BoardCall;
  picture?: Buffer;
}

export const HISTORY_MAX = 8;

/** An announcement's board, waiting for its start; `jpeg` once drawn ahead (for state `gen` at `clock`). */
interface Waiting {
  p: PreparedBoard;
  jpeg?: Buffer;
  gen?: number;
  clock?: string;
}

const hhmm = (): string => {
  const d = new Date();
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

export class QueueBoard extends EventEmitter {
  /** the drawing thread's owner (tests end its thread to play a crash) */
  readonly drawer: BoardDrawer;
  private readonly clock: () => string;
  private current: BoardCall | undefined;
  private history: BoardCall[] = [];
  /** a user's picture is on the board (the clock does not redraw it) */
  private showingPicture = false;
  private shownClock = '';
  private clockTimer: NodeJS.Timeout | undefined;
  private readonly waiting = new Map<string, Waiting>();
  /** bumped whenever the current call or the history change: a board drawn ahead for an older state is drawn again */
  private generation = 0;
  /** board changes run one after another, in the order they were asked for */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** the last board shown, as a JPEG file (tests, a screenshot) */
  lastJpeg: Buffer | undefined;
  changes = 0;

  constructor(
    private readonly output: VideoOutput,
    readonly opts: QueueBoardOptions,
  ) {
    super();
    const t = { ...DEFAULT_TEMPLATE, ...opts.template };
    t.historyCount = Math.max(0, Math.min(HISTORY_MAX, Math.floor(Number(t.historyCount) || 0)));
    this.clock = opts.clock ?? hhmm;
    this.drawer = new BoardDrawer(opts.width, opts.height, t, opts.fontFile, opts.quality ?? 85);
    // the thread's failure and its return: said by this board's 'error' and 'recovered' events
    // (a log line where nobody listens for errors: an unheard 'error' event would throw)
    this.drawer.on('error', (e: Error) => (this.listenerCount('error') ? this.emit('error', e) : this.emit('log', e.message)));
    this.drawer.on('recovered', () => {
      this.emit('recovered');
      // what was (or should have been) on the board: a call made while the thread was down, the
      // clock; a user's picture stays on air as it was (the output re-sends its JPEG)
      if (!this.showingPicture) void this.queue(() => this.change(this.output.mediaMs, true));
    });
  }

  /** Draws the empty board and starts the clock. */
  async start(): Promise<void> {
    try {
      await this.drawer.ready();
      await this.change(this.output.mediaMs);
    } catch (e) {
      // a thread that died meanwhile is being restarted, and draws the board when it is back: the
      // stream starts all the same (a renderer that cannot start at all is the deploy's error)
      if ((e as CodedError).code !== 'video.drawFailed') throw e;
    }
    this.clockTimer = setInterval(() => {
      // while the thread is down its return redraws the board, clock included
      if (!this.showingPicture && !this.drawer.down && this.clock() !== this.shownClock) this.queue(() => this.change(this.output.mediaMs, true));
    }, 1000);
    this.clockTimer.unref();
  }

  /**
   * Checks what a message asks to show, a picture decoded, scaled and encoded on the drawing
   * thread; rejects with video.badImage (the message's error) before anything is queued or spoken.
   */
  async prepare(c: BoardContent): Promise<PreparedBoard> {
    if (c.image !== undefined) return { picture: await this.drawer.picture(imageBytes(c.image)) };
    return this.prepareNow(c)!;
  }

  /**
   * What prepare() does without the drawing thread: a call checked (throws video.badCall);
   * undefined for a picture, which only prepare() can make ready.
   */
  prepareNow(c: BoardContent): PreparedBoard | undefined {
    if (c.image !== undefined) return undefined;
    if (c.call) {
      const number = String(c.call.number ?? '').trim();
      if (!number) throw new CodedError('video.badCall', 'msg.number is empty: the board needs the number being called', {});
      return { call: { number: [...number].slice(0, 16).join(''), counter: c.call.counter !== undefined ? [...String(c.call.counter)].slice(0, 16).join('') : undefined } };
    }
    return {};
  }

  /**
   * `p` is shown when the announcement `id` starts. It is drawn now, ahead (as the board will be
   * then: this call current, the current one first in the history), so at the start it goes out
   * with the announcement's first audio instead of a render later: RTP receivers that time
   * packets by their arrival (GStreamer's jitter buffer) would show it that much late. The
   * promise settles when it is drawn (never rejects).
   */
  onStart(id: string, p: PreparedBoard): Promise<void> {
    if (!p.call && !p.picture) return Promise.resolve();
    const w: Waiting = { p };
    this.waiting.set(id, w);
    if (p.picture) {
      w.jpeg = p.picture;
      return Promise.resolve();
    }
    this.chain = this.chain
      .then(async () => {
        if (this.closed || this.waiting.get(id) !== w) return;
        const gen = this.generation;
        const clock = this.clock();
        const jpeg = await this.drawer.draw({ current: p.call, history: this.nextHistory(), clock });
        Object.assign(w, { jpeg, gen, clock });
      })
      .catch((e: Error) => void this.emit('log', `the board could not be drawn ahead: ${e.message}`));
    // settles when it is drawn (or could not be): the announcement waits for it to start
    return this.chain;
  }

  /** The announcement `id` went on air (its first frame was just written): its board now. */
  started(id: string): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    const at = this.output.lastFrameMs;
    if (w.p.picture) {
      this.showingPicture = true;
      return this.putJpeg(w.p.picture, at);
    }
    const gen = this.generation;
    this.apply(w.p.call!);
    // drawn ahead for this very state (no other call started since, same minute): out at once
    if (w.jpeg && w.gen === gen && w.clock === this.clock()) {
      this.shownClock = w.clock;
      return this.putJpeg(w.jpeg, at);
    }
    this.output.expectVideo(at);
    void this.queue(() => this.change(at));
  }

  /** The announcement `id` will not play (dropped, failed). */
  forget(id: string): void {
    this.waiting.delete(id);
  }

  /** Shows `p` now (a message with a call or a picture and nothing to say). */
  showNow(p: PreparedBoard): Promise<void> {
    const at = this.output.mediaMs;
    return this.queue(async () => {
      if (p.picture) {
        this.showingPicture = true;
        return this.putJpeg(p.picture, at);
      }
      if (p.call) this.apply(p.call);
      await this.change(at);
    });
  }

  private nextHistory(): BoardCall[] {
    return this.current ? [this.current, ...this.history].slice(0, HISTORY_MAX) : this.history;
  }

  /** `call` becomes the current number, the one before it goes to the history. */
  private apply(call: BoardCall): void {
    this.history = this.nextHistory();
    this.current = call;
    this.generation++;
    this.showingPicture = false;
  }

  private queue(job: () => Promise<void>): Promise<void> {
    const run = this.chain.then(job);
    this.chain = run.catch((e: Error) => {
      this.output.cancelVideo();
      this.emit('log', `the board could not be drawn: ${e.message}`);
    });
    return run;
  }

  /** Renders the built-in board with the current state and shows it. */
  private async change(atMs: number, clockOnly = false): Promise<void> {
    if (this.closed) return;
    this.showingPicture = false;
    const state: BoardState = { current: this.current, history: this.history, clock: this.clock() };
    const jpeg = await this.drawer.draw(state);
    if (this.closed) return;
    this.shownClock = state.clock;
    // a clock redraw is a new picture from now on, never back-dated
    this.putJpeg(jpeg, clockOnly ? Math.max(atMs, this.output.mediaMs) : atMs);
  }

  private putJpeg(jpeg: Buffer, atMs: number): void {
    if (this.closed) return;
    this.lastJpeg = jpeg;
    this.changes++;
    this.output.showVideo(jpeg, atMs);
    this.emit('change', { atMs, number: this.showingPicture ? undefined : this.current?.number, jpeg });
  }

  /** The board's state, for the built-in board (tests, status). */
  get state(): { current?: BoardCall; history: BoardCall[] } {
    return { current: this.current, history: [...this.history] };
  }

  close(): void {
    this.closed = true;
    void this.drawer.close();
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.clockTimer = undefined;
    this.waiting.clear();
  }
}
