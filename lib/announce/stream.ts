/**
 * An announcement stream: the announcer's frames, paced in real time, written to an audio output
 * (RtspOutput), silence in every gap. The stream runs from start() to close() whether or not
 * anything is announced or anybody listens, as a live stream must.
 */
import { EventEmitter } from 'node:events';
import { Announcer } from './announcer';
import type { AnnouncementRequest, AnnouncerOptions, AnnouncementOutcome } from './announcer';
import { Pacer } from './pacer';
import { AnnounceError } from './errors';
import { CodedError } from '../util/errors';
import type { Clock } from './pacer';
import { toRateAsync } from './audio';
import type { AnnouncementEvent } from './announcer';
import type { BoardContent, PreparedBoard, QueueBoard } from '../video/queue-board';

/** What the stream needs of its output (RtspOutput has it). */
export interface FrameOutput extends EventEmitter {
  readonly state: string;
  start(): Promise<void>;
  writeFrame(pcm: Buffer): void;
  /** up to `maxFrames` frames of silence in one packet; returns the frames written (RtspOutput) */
  writeSilence?(maxFrames: number): number;
  close(): Promise<void>;
}

export interface AnnouncementStreamOptions extends Omit<AnnouncerOptions, 'frameMs'> {
  output: FrameOutput;
  frameMs?: number;
  /**
   * output states in which nothing can be heard (a push target reconnecting): announcements wait
   * in the queue meanwhile instead of playing into the void. Default: any state but the ones
   * given in `liveStates`.
   */
  liveStates?: string[];
  clock?: Clock;
  /**
   * frames of silence sent as one packet while nothing is queued, where the output can (Opus):
   * default 6 (120 ms, the most an Opus packet may hold: RFC 6716 §3.2.5, RFC 7587 §4.2): a sixth
   * of the packets and timer wake-ups of single frames when idle (bench/announce). Decoded as
   * 120 ms by ffmpeg's native decoder (ffplay) and libopus (GStreamer opusdec): see
   * test/announce/silence-packets.test.ts. Decoders that size their buffer for one 60 ms frame
   * (opusscript's) take at most 3; 1 = a packet per frame, for the pickiest players. An
   * announcement that arrives meanwhile starts at most (idleFrames - 1) frames later, which its
   * rendering (~100 ms) hides for speech; PCM or WAV input waits up to 100 ms.
   */
  idleFrames?: number;
  /** the queue board of the video track (createStation makes it when video is on) */
  board?: QueueBoard;
}

/** Default frames per silent packet between announcements (see idleFrames). */
export const IDLE_FRAMES = 6;
/** The most frames of silence one packet may take: 6 × 20 ms = 120 ms, an Opus packet's limit. */
export const MAX_IDLE_FRAMES = 6;

export class AnnouncementStream extends EventEmitter {
  readonly announcer: Announcer;
  readonly pacer: Pacer;
  readonly output: FrameOutput;
  readonly engine: AnnouncerOptions['engine'];
  readonly board: QueueBoard | undefined;
  private readonly defaultVoice: string | undefined;
  private readonly silenceFrame: Buffer;
  /** frames of silence per packet between announcements (see the option); may be changed live */
  idleFrames: number;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly onState: (s: string, detail?: string) => void;
  private readonly onOutputLog: (line: string) => void;
  private readonly rate: number;
  /**
   * Announcer events raised while a frame is being made (started, finished) wait here until the
   * frame is handed to the output: what listeners do with them (the node sends a message and sets
   * its status) then comes after the frame, not before it.
   */
  private making = false;
  private readonly held: AnnouncementEvent[] = [];
  /**
   * Messages wait here, in the order they came, while a picture before them is decoded on the
   * board's drawing thread; `inTake` counts them (0: a message is taken at once).
   */
  private intake: Promise<void> = Promise.resolve();
  private inTake = 0;

  constructor(opts: AnnouncementStreamOptions) {
    super();
    const frameMs = opts.frameMs ?? 20;
    this.output = opts.output;
    this.engine = opts.engine;
    this.board = opts.board;
    this.defaultVoice = opts.defaults?.voice;
    this.rate = opts.rate;
    this.announcer = new Announcer({ ...opts, frameMs });
    this.idleFrames = Math.max(1, Math.floor(opts.idleFrames ?? IDLE_FRAMES));
    this.silenceFrame = Buffer.alloc(Math.round((opts.rate * frameMs) / 1000) * 2);
    // RtspOutput's RTP time counts the frames written: after a stall (a busy event loop) the pacer
    // sends the missed frames back to back, so RTP time stays on the wall clock; only after more
    // than a second (a suspended machine) does it skip them, rather than burst seconds of audio
    this.pacer = new Pacer({ frameMs, clock: opts.clock, maxCatchUpMs: 1000, onFrame: () => this.frame() });
    this.pacer.on('resync', (r: { skippedFrames: number; behindMs: number }) =>
      this.emit('log', `event loop stalled ${Math.round(r.behindMs)} ms: ${r.skippedFrames} frames skipped, stream re-anchored`),
    );
    this.pacer.on('error', (e: Error) => this.emit('log', `frame output failed: ${e.message}`));
    this.announcer.on('log', (x) => this.emit('log', x));
    // the output's own lines too (a refused SETUP, a connection closed for being slow, a push retry)
    this.onOutputLog = (x: string) => this.emit('log', x);
    this.output.on('log', this.onOutputLog);
    this.announcer.on('event', (x: AnnouncementEvent) => (this.making ? this.held.push(x) : this.emit('event', x)));
    const board = this.board;
    if (board) {
      // 'started' comes right after the announcement's first frame was written: its board is
      // shown from that frame's media time, the same instant as its first audio
      this.on('event', (x: AnnouncementEvent) => {
        if (x.event === 'started') board.started(x.id);
        else if (x.event === 'dropped' || x.event === 'error') board.forget(x.id);
      });
      board.on('log', (l: string) => this.emit('log', l));
      // the drawing thread failing and coming back: a log line here; the node warns on the board's own events
      board.on('error', (e: Error) => this.emit('log', e.message));
      board.on('recovered', () => this.emit('log', "the board's drawing thread is back"));
    }
    const live = opts.liveStates;
    this.onState = (s: string, detail?: string) => {
      if (live) this.announcer.hold(!live.includes(s));
      // the output's detail too: why a push target is reconnecting, for the node's status
      this.emit('state', s, detail);
    };
    this.output.on('state', this.onState);
    if (live) this.announcer.hold(!live.includes(this.output.state));
  }

  /** Starts the output and the clock. Frames flow from now on (silence until an announcement). */
  async start(): Promise<void> {
    if (this.starting) return this.starting;
    this.starting = this.output.start();
    await this.starting;
    if (this.closing) return;
    // the first board before the first frame: a player that connects at once sees it
    await this.board?.start();
    if (this.closing) return;
    this.pacer.begin();
  }

  /**
   * Loads the speech engine and speaks a word into the void, so the first real announcement does
   * not pay for starting a worker and compiling the wasm (~300 ms), nor for making a resampler
   * from the engine's rate to the stream's. Rejects with the engine's error (e.g. the embedded
   * engine is not installed, the default voice is unknown).
   */
  async warmUp(): Promise<void> {
    const voice = this.defaultVoice;
    if (voice && !(await this.engine.hasVoice(voice))) {
      throw new AnnounceError('announce.unknownVoice', `the speech engine ${this.engine.name} has no voice "${voice}"`, { engine: this.engine.name, voice });
    }
    const r = await this.engine.synthesize('1', { voice });
    await toRateAsync(r.pcm, r.rate, this.rate);
  }

  /**
   * Queues an announcement; `board` (a call or a picture) replaces the board when it starts. A
   * picture is decoded on the board's drawing thread first: a broken one rejects `ready`
   * (video.badImage) with nothing queued. Until it is ready, the messages after it wait behind it,
   * so they go on air in the order they came. Without a picture waiting, a request that cannot be
   * accepted throws here, as the announcer's announce() does.
   */
  announce(req: AnnouncementRequest, board?: BoardContent): { id: string; ready: Promise<AnnouncementOutcome> } {
    const qb = this.board;
    const content = qb && board;
    // the board is drawn ahead while the speech is made, and the announcement starts when both
    // are done: its first audio and its picture leave together (a picture drawn after the start
    // would show late by its drawing time, or twice that, drawn again once the first finished)
    const alongside = (p: PreparedBoard | undefined) => (p ? (id: string) => qb!.onStart(id, p) : undefined);
    if (this.inTake === 0) {
      const now = content ? qb.prepareNow(content) : undefined;
      if (!content || now) return this.announcer.announce(req, alongside(now));
    }
    const id = req.id !== undefined && req.id !== null && String(req.id) !== '' ? String(req.id) : this.announcer.newId();
    const accepted = this.inOrder(async () => this.announcer.announce({ ...req, id }, alongside(content ? await qb.prepare(content) : undefined)));
    const ready = accepted.then((r) => r.ready);
    // callers that only listen to events must not see an unhandled rejection
    ready.catch(() => undefined);
    return { id, ready };
  }

  /** Shows a call or a picture on the board now, without speech (rejects with video.off without a video track). */
  showBoard(board: BoardContent): Promise<void> {
    const qb = this.board;
    if (!qb) return Promise.reject(new CodedError('video.off', 'msg.image or msg.number changes the video board, but this stream has no video: turn video on, or send text to speak', {}));
    // showNow's promise settles when the board is drawn: the messages after this one wait only
    // until it is in the board's own queue
    return this.inOrder(async () => ({ shown: qb.showNow(await qb.prepare(board)) })).then((x) => x.shown);
  }

  /** Cuts what plays and drops what waits, after the messages that came before (in order). */
  interrupt(): Promise<void> {
    if (this.inTake === 0) {
      this.announcer.interrupt();
      return Promise.resolve();
    }
    return this.inOrder(async () => this.announcer.interrupt());
  }

  /** Runs `job` after every job before it settled (the messages waiting for a picture, in order). */
  private inOrder<T>(job: () => Promise<T>): Promise<T> {
    this.inTake++;
    const run = this.intake.then(job);
    this.intake = run.then(
      () => void this.inTake--,
      () => void this.inTake--,
    );
    return run;
  }

  /** Stops the clock, drops what waits (dropped events) and closes the output. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.pacer.stop();
      this.board?.close();
      this.announcer.close();
      this.output.off('state', this.onState);
      this.output.off('log', this.onOutputLog);
      // a close during start (a quick redeploy) must wait for the server to be up to close it
      await this.starting?.catch(() => undefined);
      await Promise.all([this.output.close(), this.engine.close()]);
    })();
    return this.closing;
  }

  private frame(): void {
    this.making = true;
    try {
      this.makeFrame();
    } finally {
      this.making = false;
      if (this.held.length) for (const e of this.held.splice(0)) this.emit('event', e);
    }
  }

  private makeFrame(): void {
    const f = this.announcer.nextFrame();
    if (f) {
      this.output.writeFrame(f);
      return;
    }
    // nothing to say and nothing waiting: silence, several frames per packet where the output
    // can (the pacer then sleeps until after them). Once anything is queued (it is being
    // rendered, ~100 ms), back to a packet per frame, so by the time it is ready the last
    // multi-frame packet has run out and it starts at the next frame, as without them.
    if (this.idleFrames > 1 && this.output.writeSilence && this.announcer.queued === 0) {
      this.pacer.produced(this.output.writeSilence(this.idleFrames));
      return;
    }
    this.output.writeFrame(this.silenceFrame);
  }
}
