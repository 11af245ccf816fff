/**
 * Message-level resampling of many interleaved streams (what the `resample` node does, usable
 * without Node-RED): one Resampler per stream key (stmId, else topic), created on the stream's
 * first chunk, flushed and released on `complete: true`, after an idle timeout (its tail is
 * handed to onIdleTail), or when the stream changes format mid-way (the old tail goes out first).
 */
import type { PcmFormat } from '../pcm/contract';
import { formatFields, streamKey } from '../pcm/contract';
import { readPcm } from '../pcm/read';
import { StreamTable } from '../pcm/stream-table';
import type { Quality } from './design';
import { type Mix, type OutChannels, Resampler, checkResamplerOptions } from './resampler';

export type Msg = Record<string, unknown>;

export interface ResampleStreamsOptions {
  outRate: number;
  outChannels: OutChannels;
  mix: Mix;
  quality: Quality;
  /** release a stream's state after this long without a chunk (ms); 0 = never */
  idleMs: number;
  /** gets the message carrying the filter tail of a stream released for idleness */
  onIdleTail?: (msg: Msg) => void;
}

interface StreamState {
  r: Resampler;
  /** the last message of the stream, whose fields a tail message carries */
  last: Msg;
  /** capture time (ms) of the stream's input frame 0, from the latest timestamped chunk */
  origin?: number;
}

export class ResampleStreams {
  private readonly table: StreamTable<StreamState>;
  /** the most recent conversion, for the node's status */
  lastConversion: { from: PcmFormat; to: PcmFormat } | undefined;

  constructor(private readonly opts: ResampleStreamsOptions) {
    checkResamplerOptions({ inRate: 48000, inChannels: 1, outRate: opts.outRate, outChannels: opts.outChannels, mix: opts.mix, quality: opts.quality });
    this.table = new StreamTable<StreamState>({
      idleMs: opts.idleMs,
      onIdle: (_key, st) => {
        const tail = this.tailMessage(st, false);
        if (tail) opts.onIdleTail?.(tail);
      },
    });
  }

  /** Streams with state now. */
  get size(): number {
    return this.table.size;
  }

  /** The output format for an input format under this configuration. */
  outputFormat(input: PcmFormat): PcmFormat {
    const ch = this.opts.outChannels === 'same' ? input.channels : this.opts.outChannels;
    return { rate: this.opts.outRate, channels: ch };
  }

  /**
   * Handles one input message; returns the messages to send (in order, possibly none). Throws a
   * PcmFormatError for input that is not the contract, before touching any state.
   */
  handle(msg: Msg): Msg[] {
    const read = readPcm(msg);
    const key = streamKey(msg);
    const complete = msg.complete === true;
    const out: Msg[] = [];
    const existing = this.table.peek(key);
    if (!read.format) {
      // a bare `complete`: flush the stream if we know it, else pass the marker on
      if (existing) {
        this.table.delete(key);
        out.push(this.tailMessage({ ...existing, last: msg }, true) ?? msg);
      } else out.push(msg);
      return out;
    }
    // a chunk with no samples (a header-only WAV, an empty Buffer) carries nothing to convert: it
    // must not end the running stream, even when its header names another format
    if (read.pcm.length === 0 && !complete) return out;
    const target = this.outputFormat(read.format);
    if (existing && (existing.r.inFormat.rate !== read.format.rate || existing.r.inFormat.channels !== read.format.channels)) {
      // the stream changed format: finish the old filter before starting a new one
      this.table.delete(key);
      const tail = this.tailMessage(existing, false);
      if (tail) out.push(tail);
    }
    this.lastConversion = { from: read.format, to: target };
    if (read.format.rate === target.rate && read.format.channels === target.channels) {
      // already the target format: the same message (or, for a WAV, its PCM as a view), no copy
      this.table.delete(key);
      out.push(read.fromWav ? { ...msg, payload: read.pcm, ...formatFields(target) } : msg);
      return out;
    }
    const st = this.table.get(key, () => ({
      r: new Resampler({ inRate: read.format.rate, inChannels: read.format.channels, outRate: target.rate, outChannels: this.opts.outChannels, mix: this.opts.mix, quality: this.opts.quality }),
      last: msg,
    }));
    st.last = msg;
    const before = st.r.counts;
    // capture time of input frame 0 as this chunk tells it (chunks carry their first sample's time)
    if (typeof msg.timestamp === 'number') st.origin = msg.timestamp - (before.framesIn / read.format.rate) * 1000;
    let pcm = st.r.process(read.pcm);
    if (complete) {
      pcm = Buffer.concat([pcm, st.r.flush()]);
      this.table.delete(key);
    }
    if (pcm.length === 0 && !complete) return out;
    const res: Msg = { ...msg, payload: pcm, ...formatFields(target) };
    // output frame n is centred on input instant n * inRate / outRate (no filter delay)
    if (st.origin !== undefined) res.timestamp = st.origin + (before.framesOut / target.rate) * 1000;
    out.push(res);
    return out;
  }

  /** Drops every stream's state (node close). */
  close(): void {
    this.table.clear();
  }

  private tailMessage(st: StreamState, complete: boolean): Msg | undefined {
    const before = st.r.counts;
    const pcm = st.r.flush();
    if (pcm.length === 0 && !complete) return undefined;
    const msg: Msg = { ...st.last, payload: pcm, ...formatFields(st.r.outFormat) };
    if (complete) msg.complete = true;
    else delete msg.complete;
    if (st.origin !== undefined) msg.timestamp = st.origin + (before.framesOut / st.r.outFormat.rate) * 1000;
    return msg;
  }
}
