/**
 * A message (Node-RED's shape, but no Node-RED import) to an announcement request: a string
 * payload is text to speak, a Buffer is PCM per the package's contract or a WAV file. Options come
 * from the message's own properties, so a flow sets them with a Change node.
 */
import { readPcm } from '../pcm';
import type { AnnouncementRequest } from './announcer';
import { AnnounceError } from './errors';
import type { BoardContent } from '../video/queue-board';

/**
 * What the message asks for: an announcement (and what it puts on the video board when it
 * starts), only to cut what plays and clear the queue, or only to change the board.
 */
export type MessageRequest = { kind: 'announce'; req: AnnouncementRequest; board?: BoardContent } | { kind: 'interrupt' } | { kind: 'board'; board: BoardContent };

/** The board fields of a message: msg.image (PNG/JPEG Buffer), or msg.number and msg.counter (or msg.window). */
export function boardFromMessage(msg: Record<string, unknown>): BoardContent | undefined {
  if (msg.image !== undefined && msg.image !== null) return { image: msg.image as Buffer };
  const num = msg.number;
  if (num === undefined || num === null || num === '') return undefined;
  const counter = msg.counter ?? msg.window;
  return { call: { number: String(num), counter: counter === undefined || counter === null || counter === '' ? undefined : String(counter) } };
}

const num = (v: unknown): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  return typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : (v as number);
};

export function requestFromMessage(msg: Record<string, unknown>): MessageRequest {
  const p = msg.payload;
  const opts: AnnouncementRequest = {
    id: msg.id !== undefined && msg.id !== null && msg.id !== '' ? String(msg.id) : typeof msg._msgid === 'string' ? msg._msgid : undefined,
    voice: typeof msg.voice === 'string' && msg.voice !== '' ? msg.voice : undefined,
    // msg.rate is the PCM sample rate in this package's contract: speech speed is msg.speed
    speed: num(msg.speed),
    pitch: num(msg.pitch),
    volume: num(msg.volume),
    priority: num(msg.priority),
    repeat: num(msg.repeat),
    gapMs: num(msg.gap),
    interrupt: msg.interrupt === true || msg.interrupt === 'true',
    chime: typeof msg.chime === 'boolean' ? msg.chime : undefined,
  };
  if (opts.interrupt && (p === undefined || p === null || p === '')) return { kind: 'interrupt' };
  const board = boardFromMessage(msg);
  if (board && (p === undefined || p === null || p === '')) return { kind: 'board', board };
  if (typeof p === 'string') return { kind: 'announce', req: { ...opts, text: p }, board };
  if (typeof p === 'number') return { kind: 'announce', req: { ...opts, text: String(p) }, board };
  if (Buffer.isBuffer(p)) {
    const r = readPcm(msg);
    if (!r.format || r.pcm.length === 0) throw new AnnounceError('announce.noAudioInBuffer', 'the payload Buffer holds no audio to play', {});
    const text = typeof msg.text === 'string' ? msg.text : '';
    return { kind: 'announce', req: { ...opts, text, audio: { pcm: r.pcm, rate: r.format.rate, channels: r.format.channels } }, board };
  }
  const got = p === null ? 'null' : Array.isArray(p) ? 'an array' : typeof p;
  throw new AnnounceError('announce.badPayload', `payload is ${got}: send text to speak, or a Buffer of PCM (with msg.rate) or a WAV file to play`, { got });
}
