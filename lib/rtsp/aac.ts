/**
 * AAC through an ffmpeg child process. There is no well-kept pure-JS/wasm AAC encoder on npm, so
 * the PCM frames go to `ffmpeg -f s16le -i pipe:0 -c:a aac -f adts pipe:1` and the ADTS frames
 * that come back are packetized here (RFC 3640 AAC-hbr). Why not let ffmpeg publish by itself:
 * we keep ONE transport (our server and publisher, auth, back-off, listeners, RTCP) for every
 * codec, ffmpeg only encodes; its restarts never drop listeners or the publisher's connection.
 *
 * The child is supervised: if it exits it is restarted with back-off, its stderr goes to `onLog`
 * and failures to `onError`; frames written while it is down are dropped (the stream stays on
 * the wall clock, the receiver hears a short gap).
 */
import { CodedError } from '../util/errors';
import { findExecutable, type PlatformEnv } from '../util/executable';
import { FfmpegChild } from './ffmpeg-child';
import { AAC_RATES, checkCodecInput, type Emit, type PayloadEncoder } from './codecs';

/** AAC-LC: 1024 samples per frame */
const AAC_FRAME = 1024;

export { findExecutable } from '../util/executable';

export function ffmpegMissing(name: string): CodedError {
  return new CodedError(
    'rtsp.ffmpegMissing',
    `AAC needs ffmpeg, but "${name}" was not found on PATH or in the usual install folders: install ffmpeg (Windows: winget install ffmpeg; macOS: brew install ffmpeg; Linux: the ffmpeg package) and give its full path in the node's ffmpeg setting if Node-RED does not find it, or choose Opus, G.711 or L16`,
    { name },
  );
}

/** AudioSpecificConfig for AAC-LC mono at `rate`, as hex for the SDP `config=` parameter. */
export function aacConfigHex(rate: number): string {
  const idx = AAC_RATES.indexOf(rate);
  const asc = (2 << 11) | (idx << 7) | (1 << 3); // object type 2 (LC), frequency index, 1 channel
  return asc.toString(16).padStart(4, '0');
}

export interface AacOptions {
  rate: number;
  bitrate?: number;
  /** the ffmpeg program: a name looked up on PATH (default "ffmpeg") or a path */
  ffmpegPath?: string;
  /** the folder a relative ffmpegPath is taken from (Node-RED's user directory) */
  baseDir?: string;
  /** platform rules for finding ffmpeg (tests pass Windows/macOS ones) */
  platform?: PlatformEnv;
  backoff?: { initialMs: number; maxMs: number };
  onLog: (line: string) => void;
  onError: (err: CodedError) => void;
}

export class AacPayloadEncoder implements PayloadEncoder {
  readonly payloadType = 97;
  readonly clockRate: number;
  readonly rtpmap: string;
  readonly fmtp: string;
  private readonly child: FfmpegChild;
  private pending = Buffer.alloc(0);
  /** RTP time of the first sample written to the current child */
  private baseTs: number | undefined;
  private framesOut = 0;

  constructor(
    private readonly opts: AacOptions,
    private readonly emit: Emit,
  ) {
    checkCodecInput('aac', opts.rate, 20);
    const name = opts.ffmpegPath || 'ffmpeg';
    const found = findExecutable(name, { ...opts.platform, baseDir: opts.baseDir });
    if (!found) throw ffmpegMissing(name);
    this.clockRate = opts.rate;
    this.rtpmap = `mpeg4-generic/${opts.rate}/1`;
    this.fmtp = `streamtype=5;profile-level-id=15;mode=AAC-hbr;config=${aacConfigHex(opts.rate)};sizelength=13;indexlength=3;indexdeltalength=3`;
    const args = ['-hide_banner', '-loglevel', 'warning', '-f', 's16le', '-ar', String(opts.rate), '-ac', '1', '-i', 'pipe:0'];
    args.push('-c:a', 'aac', '-b:a', String(opts.bitrate ?? 64000), '-f', 'adts', '-flush_packets', '1', 'pipe:1');
    this.child = new FfmpegChild({
      program: found,
      args,
      role: 'AAC encoder',
      codes: { missing: ffmpegMissing, failed: 'rtsp.ffmpegFailed', exited: 'rtsp.ffmpegExited' },
      backoff: opts.backoff,
      onSpawn: () => {
        this.pending = Buffer.alloc(0);
        this.baseTs = undefined;
        this.framesOut = 0;
      },
      onStdout: (d) => this.onAdts(d),
      onLog: opts.onLog,
      onError: opts.onError,
    });
  }

  /** The ffmpeg child's pid (tests use it to check supervision). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get restarts(): number {
    return this.child.restarts;
  }

  encode(pcm: Buffer, timestamp: number): void {
    const child = this.child.current;
    if (!child || !child.stdin.writable) return; // restarting: dropped, the wall clock goes on
    // a stuck child must not make us buffer without bound: 2 s of audio is plenty of slack
    if (child.stdin.writableLength > this.opts.rate * 4) return;
    if (this.baseTs === undefined) this.baseTs = timestamp;
    child.stdin.write(pcm);
  }

  /** Splits the ADTS byte stream into frames and emits each raw AAC frame as one RFC 3640 payload. */
  private onAdts(d: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    while (buf.length >= 7) {
      if (buf[0] !== 0xff || (buf[1] & 0xf0) !== 0xf0) {
        // lost sync (should not happen with a pipe): skip to the next syncword
        const next = buf.indexOf(0xff, 1);
        buf = next < 0 ? Buffer.alloc(0) : buf.subarray(next);
        continue;
      }
      const protectionAbsent = buf[1] & 1;
      const frameLen = ((buf[3] & 0x03) << 11) | (buf[4] << 3) | (buf[5] >> 5);
      if (buf.length < frameLen) break;
      const headerLen = protectionAbsent ? 7 : 9;
      const au = buf.subarray(headerLen, frameLen);
      const payload = Buffer.allocUnsafe(4 + au.length);
      payload.writeUInt16BE(16, 0); // AU-headers-length in bits: one 16-bit AU header
      payload.writeUInt16BE((au.length << 3) & 0xfff8, 2); // AU-size (13 bits), AU-Index 0
      au.copy(payload, 4);
      const ts = (this.baseTs ?? 0) + this.framesOut * AAC_FRAME;
      this.framesOut++;
      this.emit({ payload, timestamp: ts, marker: true });
      buf = buf.subarray(frameLen);
    }
    this.pending = Buffer.from(buf);
  }

  /** Kills the child and resolves once it is gone (at most 2 s), so nothing outlives close. */
  close(): Promise<void> {
    return this.child.close();
  }
}
