/**
 * What goes on the wire for one chunk of PCM: by default the seed's JSON text frame
 * `{"traceId","stmId","timestamp","data"}` (timestamp in seconds since epoch as a float, data =
 * base64 of the PCM), byte for byte; field names configurable, extra fields appended; optionally a
 * WAV header in front of every chunk; or binary frames carrying the raw PCM. Plus the optional
 * end-of-stream frame, written as a JSON template with `{{stmId}}`-style placeholders.
 */
import type { PcmFormat } from '../pcm';
import { wavHeader } from '../pcm';
import { CodedError } from '../util/errors';

export interface FrameFieldNames {
  traceId: string;
  stmId: string;
  timestamp: string;
  data: string;
}

/** The seed's field names; an empty name leaves that field out. */
export const DEFAULT_FIELDS: FrameFieldNames = { traceId: 'traceId', stmId: 'stmId', timestamp: 'timestamp', data: 'data' };

/** An extra JSON field: a fixed value, or a message property (dotted path) read per chunk. */
export type ExtraField = { name: string; value: unknown } | { name: string; fromMsg: string } | { name: string; get: (msg: Record<string, unknown> | undefined) => unknown };

export interface FrameOptions {
  /** 'json' (text frames, base64 audio) or 'binary' (raw PCM in binary frames) */
  mode?: 'json' | 'binary';
  fields?: Partial<FrameFieldNames>;
  extra?: ExtraField[];
  /** prepend a 44-byte WAV header to every chunk's PCM */
  wavHeader?: boolean;
  /**
   * name of a `seq` field (the chunk's 0-based number within its stream) added after the other
   * fields; set in ack mode, where the receiver acknowledges it and drops re-sent duplicates by it
   */
  seqField?: string;
  /** JSON template of the frame sent after a stream completes, e.g. `{"stmId":"{{stmId}}","end":true}`; empty = none */
  endFrame?: string;
}

/** The identity and timing of the chunk a frame carries. */
export interface FrameContext {
  stmId: string;
  traceId: string;
  topic?: string;
  /** capture time of the first sample (ms since epoch); the send time when unknown */
  timestampMs: number;
  /** the chunk's number within its stream (written when FrameOptions.seqField is set) */
  seq?: number;
  /** the message whose audio completed the chunk (source of `fromMsg` extras) */
  msg?: Record<string, unknown>;
}

/** Reads `a.b.c` from an object, undefined when any step is missing. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Replaces `{{name}}` placeholders with the values of `vars` (missing names become ''). */
export function fillTemplate(text: string, vars: Record<string, unknown>, encode: (s: string) => string = (s) => s): string {
  return text.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_m, name: string) => {
    const v = getPath(vars, name);
    return v === undefined || v === null ? '' : encode(String(v));
  });
}

export class FrameBuilder {
  readonly mode: 'json' | 'binary';
  readonly fields: FrameFieldNames;
  /** `"name":` prefixes, computed once: the frame is concatenated, not JSON.stringify'd (hot path) */
  private readonly keys: { traceId: string; stmId: string; timestamp: string; data: string };
  private readonly extra: ExtraField[];
  private readonly endTemplate: unknown;

  constructor(private readonly opts: FrameOptions = {}) {
    this.mode = opts.mode ?? 'json';
    this.fields = { ...DEFAULT_FIELDS, ...(opts.fields ?? {}) };
    const key = (n: string) => (n ? JSON.stringify(n) + ':' : '');
    this.keys = { traceId: key(this.fields.traceId), stmId: key(this.fields.stmId), timestamp: key(this.fields.timestamp), data: key(this.fields.data) };
    this.extra = (opts.extra ?? []).filter((e) => e.name);
    this.endTemplate = undefined;
    if (opts.endFrame && opts.endFrame.trim()) {
      try {
        this.endTemplate = JSON.parse(opts.endFrame);
      } catch (err) {
        throw new CodedError('ws.badEndFrame', `end-of-stream frame is not valid JSON: ${(err as Error).message}`, { reason: (err as Error).message });
      }
    }
  }

  /** The frame for one chunk: a string (JSON text frame) or a Buffer (binary frame). */
  chunk(pcm: Buffer, format: PcmFormat, ctx: FrameContext): string | Buffer {
    const audio = this.opts.wavHeader ? Buffer.concat([wavHeader(format, pcm.length), pcm]) : pcm;
    if (this.mode === 'binary') return audio;
    const parts: string[] = [];
    if (this.keys.traceId) parts.push(this.keys.traceId + JSON.stringify(ctx.traceId));
    if (this.keys.stmId) parts.push(this.keys.stmId + JSON.stringify(ctx.stmId));
    if (this.keys.timestamp) parts.push(this.keys.timestamp + JSON.stringify(ctx.timestampMs / 1000));
    if (this.keys.data) parts.push(this.keys.data + '"' + audio.toString('base64') + '"');
    if (this.opts.seqField && ctx.seq !== undefined) parts.push(JSON.stringify(this.opts.seqField) + ':' + ctx.seq);
    for (const e of this.extra) {
      const v = 'get' in e ? e.get(ctx.msg) : 'fromMsg' in e ? getPath(ctx.msg, e.fromMsg) : e.value;
      if (v !== undefined) parts.push(JSON.stringify(e.name) + ':' + JSON.stringify(v));
    }
    return '{' + parts.join(',') + '}';
  }

  /** The end-of-stream frame (JSON text), or undefined when none is configured. */
  end(ctx: FrameContext): string | undefined {
    if (this.endTemplate === undefined) return undefined;
    const vars: Record<string, unknown> = { stmId: ctx.stmId, traceId: ctx.traceId, topic: ctx.topic ?? '', timestamp: ctx.timestampMs / 1000 };
    const fill = (v: unknown): unknown => {
      if (typeof v === 'string') {
        // a string that is exactly one placeholder keeps the value's type (e.g. a number timestamp)
        const whole = /^\{\{\s*([\w.]+)\s*\}\}$/.exec(v);
        if (whole) return getPath(vars, whole[1]) ?? '';
        return fillTemplate(v, vars);
      }
      if (Array.isArray(v)) return v.map(fill);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
      return v;
    };
    return JSON.stringify(fill(this.endTemplate));
  }
}
