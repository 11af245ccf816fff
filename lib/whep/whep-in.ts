/**
 * The engine of the `whep-in` node, usable without Node-RED: many WHEP streams at once, keyed by
 * stmId, with a cap on how many run together, one housekeeping timer for all of them, and a
 * summary for the node status ("3 live, 1 idle").
 */
import { StreamTable } from '../pcm';
import { CodedError } from '../util/errors';
import { opusRateError } from './opus';
import { checkWhepUrl } from './signalling';
import { WhepStream, type WhepEvent, type WhepState, type WhepStreamOptions, type WhepStreamSink } from './stream';

export type WhepInOptions = Omit<WhepStreamOptions, 'url' | 'stmId' | 'traceId'> & {
  /** streams that may run at once (default 100) */
  maxStreams?: number;
};

export interface StartRequest {
  url: string;
  /** a string or a finite number (numbers become their decimal text) */
  stmId: string | number;
  traceId?: string;
  token?: string;
}

export type WhepSummary = Record<WhepState, number> & { total: number };

const TICK_MS = 100;

export class WhepIn {
  private readonly streams = new StreamTable<WhepStream>({ idleMs: 0 });
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  readonly maxStreams: number;
  /**
   * What is wrong with the options (an output rate Opus cannot decode to), if anything: every
   * start() then throws it, so the owner can report it once at deploy instead of each stream
   * failing when its first session begins.
   */
  readonly configError: CodedError | undefined;

  constructor(
    private readonly opts: WhepInOptions,
    private readonly sink: WhepStreamSink,
  ) {
    this.maxStreams = opts.maxStreams ?? 100;
    this.configError = opts.rate === undefined ? undefined : opusRateError(opts.rate);
  }

  get size(): number {
    return this.streams.size;
  }

  get(stmId: string): WhepStream | undefined {
    return this.streams.peek(stmId);
  }

  /**
   * Starts a stream; throws a CodedError at once when the request cannot work (no or unusable URL,
   * an stmId that is not a string or number) or when the stmId is taken or the cap is reached.
   */
  start(req: StartRequest): WhepStream {
    if (this.configError) throw this.configError;
    if (this.closing) throw new CodedError('whep.closing', 'the node is closing', {});
    if (req.url === undefined || req.url === null || req.url === '') throw new CodedError('whep.noUrl', 'no WHEP URL: set msg.url (or the node\'s URL)', {});
    checkWhepUrl(req.url);
    const stmId = checkStmId(req.stmId);
    if (this.streams.has(stmId)) {
      throw new CodedError('whep.running', `stream "${stmId}" is already running: stop it first or use another stmId`, { stmId });
    }
    if (this.streams.size >= this.maxStreams) {
      throw new CodedError('whep.tooMany', `cannot start stream "${stmId}": ${this.maxStreams} streams are already running (the node's maximum)`, {
        stmId,
        max: this.maxStreams,
      });
    }
    const { maxStreams: _max, ...streamOpts } = this.opts;
    const stream: WhepStream = new WhepStream({ ...streamOpts, url: req.url, stmId, traceId: req.traceId, token: req.token ?? this.opts.token }, {
      chunk: (msg) => this.sink.chunk(msg),
      event: (ev: WhepEvent) => {
        if (ev.event === 'stopped' && this.streams.peek(stmId) === stream) this.streams.delete(stmId);
        this.sink.event(ev);
        if (this.streams.size === 0) this.disarm();
      },
    });
    this.streams.get(stmId, () => stream);
    this.arm();
    stream.start();
    return stream;
  }

  /** Stops one stream (DELETE, complete). False when no such stream runs. */
  async stop(stmId: string): Promise<boolean> {
    const s = this.streams.peek(stmId);
    if (!s) return false;
    await s.stop();
    return true;
  }

  /** Stops every stream (redeploy / close): every session DELETEd, every socket and timer released. */
  async close(): Promise<void> {
    this.closing = true;
    await this.stopAll();
  }

  /** Stops every stream; new ones may start afterwards. */
  async stopAll(): Promise<void> {
    const all = this.streams.clear();
    this.disarm();
    await Promise.all(all.map(([, s]) => s.stop()));
  }

  summary(): WhepSummary {
    const out: WhepSummary = { connecting: 0, waiting: 0, live: 0, idle: 0, reconnecting: 0, stopped: 0, error: 0, total: 0 };
    for (const key of this.streams.keys()) {
      const s = this.streams.peek(key)!;
      out[s.state]++;
      out.total++;
    }
    return out;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const key of this.streams.keys()) this.streams.peek(key)?.tick(now);
    }, TICK_MS);
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * A stream's name as text: a string, or a finite number. Anything else is refused: two objects
 * would both become "[object Object]" and collide.
 */
export function checkStmId(v: unknown): string {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  const shown = v === undefined ? 'undefined' : v === null ? 'null' : typeof v === 'string' ? '""' : typeof v === 'number' ? String(v) : Array.isArray(v) ? 'an array' : `a(n) ${typeof v}`;
  throw new CodedError('whep.badStmId', `stmId must be a non-empty string or a number, not ${shown}`, { got: shown });
}
