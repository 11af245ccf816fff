/**
 * One call from a flat configuration (what the node's edit dialog holds, or a script's options)
 * to a running announcement stream: speech engine + announcer + pacer + RTSP output.
 */
import { readFileSync } from 'node:fs';
import { RtspOutput } from '../rtsp';
import type { RtspCodec, RtspOutputOptions } from '../rtsp';
import { decodeWav } from '../pcm';
import { resolveUserPath } from '../util/executable';
import { createEngine } from './engines';
import type { EngineKind } from './engines';
import { AnnouncementStream, MAX_IDLE_FRAMES } from './stream';
import { toMono, toRate, twoToneChime } from './audio';
import { AnnounceError } from './errors';
import type { SpeechEngine } from './types';
import { QueueBoard } from '../video/queue-board';
import type { BoardTemplate } from '../video/board';
import { CodedError } from '../util/errors';

export interface StationConfig {
  mode: 'serve' | 'push';
  codec?: RtspCodec;
  /** serve */
  host?: string;
  port?: number;
  path?: string;
  auth?: 'none' | 'basic' | 'digest';
  /** most players at once (default 100); more are refused with 453 Not Enough Bandwidth */
  maxPlayers?: number;
  /** push */
  url?: string;
  transport?: 'tcp' | 'udp';
  username?: string;
  password?: string;
  /** speech */
  engine?: EngineKind;
  command?: string;
  voice?: string;
  speed?: number;
  pitch?: number;
  volume?: number;
  repeat?: number;
  gapMs?: number;
  /** none, builtin (two-tone), or file (chimeFile, a WAV) */
  chime?: 'none' | 'builtin' | 'file';
  chimeFile?: string;
  /** AAC and H.264 video: the ffmpeg program (default "ffmpeg", found on PATH or where installers put it) */
  ffmpegPath?: string;
  /**
   * The folder relative names (chime file, ffmpeg, the espeak-ng program, a command and its
   * files) are taken from: Node-RED's user directory. Default: the working directory.
   */
  baseDir?: string;
  maxQueue?: number;
  maxChars?: number;
  /** push back-off (ms), default 1000..30000 */
  backoff?: { initialMs: number; maxMs: number };
  /**
   * frames of 20 ms silence per packet between announcements (Opus only): 1–6, default 6 = 120 ms
   * (least CPU); 3 = 60 ms; 1 = a packet per frame (most compatible). See AnnouncementStream.
   */
  idleFrames?: number;
  /**
   * a video track with the queue board, in serve and push mode: off (default), mjpeg (RTP/JPEG)
   * or h264 (encoded by an ffmpeg child: ffmpegPath)
   */
  video?: 'off' | 'mjpeg' | 'h264';
  /** board size in pixels, multiples of 16 (default 1280×720) */
  videoWidth?: number;
  videoHeight?: number;
  /** pictures per second, 1–10 (default 2): how soon a player that joins sees the board */
  fps?: number;
  /** the built-in board's texts and how many earlier calls it lists */
  template?: Partial<BoardTemplate>;
  /** font file (.ttf/.otf/.ttc) for the built-in board's text; CJK needs a CJK font */
  fontFile?: string;
}

export const VIDEO_MODES = ['off', 'mjpeg', 'h264'] as const;

/** The PCM rate the stream runs at for a codec. */
export function streamRate(codec: RtspCodec): number {
  switch (codec) {
    case 'pcmu':
    case 'pcma':
      return 8000;
    case 'l16':
      return 16000;
    default:
      return 48000;
  }
}

export function loadChime(cfg: Pick<StationConfig, 'chime' | 'chimeFile' | 'baseDir'>, rate: number): Buffer | undefined {
  if (cfg.chime === 'builtin') return twoToneChime(rate);
  if (cfg.chime !== 'file') return undefined;
  let wav;
  try {
    wav = decodeWav(readFileSync(resolveUserPath(cfg.chimeFile ?? '', cfg.baseDir)));
  } catch (e) {
    throw new AnnounceError('announce.badChime', `the chime file "${cfg.chimeFile}" cannot be used: ${(e as Error).message}`, {
      file: String(cfg.chimeFile),
      reason: (e as Error).message,
    });
  }
  return toRate(toMono(wav.pcm, wav.format.channels), wav.format.rate, rate);
}

export function createStation(cfg: StationConfig, engine: SpeechEngine = createEngine({ kind: cfg.engine, command: cfg.command, baseDir: cfg.baseDir })): AnnouncementStream {
  const codec = cfg.codec ?? 'opus';
  const rate = streamRate(codec);
  const credentials = cfg.username ? { username: cfg.username, password: cfg.password ?? '' } : undefined;
  const opts: RtspOutputOptions = { mode: cfg.mode, codec, rate, channels: 1, frameMs: 20, ffmpegPath: cfg.ffmpegPath || undefined, baseDir: cfg.baseDir };
  if (cfg.mode === 'serve') {
    const auth = cfg.auth && cfg.auth !== 'none' && credentials ? { ...credentials, scheme: cfg.auth } : undefined;
    opts.serve = { host: cfg.host || '0.0.0.0', port: cfg.port ?? 8554, path: cfg.path || 'announce', auth, maxPlayers: cfg.maxPlayers };
  } else {
    opts.push = { url: cfg.url ?? '', auth: credentials, transport: cfg.transport ?? 'tcp', backoff: cfg.backoff ?? { initialMs: 1000, maxMs: 30000 } };
  }
  const idle = cfg.idleFrames;
  if (idle !== undefined && !(Number.isInteger(idle) && idle >= 1 && idle <= MAX_IDLE_FRAMES)) {
    throw new AnnounceError('announce.badOption', `silence frames per packet ${JSON.stringify(idle)} is not valid: expected a whole number from 1 to ${MAX_IDLE_FRAMES}`, {
      name: 'silence frames per packet',
      value: JSON.stringify(idle),
      min: 1,
      max: MAX_IDLE_FRAMES,
    });
  }
  const video = cfg.video ?? 'off';
  if (!VIDEO_MODES.includes(video)) throw new CodedError('video.badMode', `video "${String(video)}" is not valid: expected off, mjpeg or h264`, { value: String(video) });
  // h264: RtspOutput finds ffmpeg now and refuses the configuration without it (video.ffmpegMissing)
  if (video !== 'off') opts.video = { codec: video, fps: cfg.fps ?? 2, width: cfg.videoWidth ?? 1280, height: cfg.videoHeight ?? 720 };
  const output = new RtspOutput(opts);
  const board = opts.video && new QueueBoard(output, { width: opts.video.width, height: opts.video.height, template: cfg.template, fontFile: cfg.fontFile || undefined });
  return new AnnouncementStream({
    board,
    output,
    engine,
    rate,
    maxQueue: cfg.maxQueue,
    maxChars: cfg.maxChars,
    chime: loadChime(cfg, rate),
    defaults: { voice: cfg.voice, speed: cfg.speed, pitch: cfg.pitch, volume: cfg.volume, repeat: cfg.repeat, gapMs: cfg.gapMs },
    // a push target that is (re)connecting hears nothing: announcements wait for it
    liveStates: cfg.mode === 'push' ? ['publishing'] : undefined,
    idleFrames: cfg.idleFrames,
  });
}
