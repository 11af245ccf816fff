/**
 * A message (Node-RED's shape, but no Node-RED import) to an announcement request: a string
 * payload is text to speak, a Buffer is PCM per the package's contract or a WAV file. Options come
 * from the message's own properties, so a flow sets them with a Change node.
 */
import { readPcm } from '../pcm';
import type { AnnouncementRequest } from './announcer';
import { AnnounceError } from './errors';

/** What the message asks for: an announcement, or only to cut what plays and clear the queue. */
export type MessageRequest = { kind: 'announce'; req: AnnouncementRequest } | { kind: 'interrupt' };

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
  if (typeof p === 'string') return { kind: 'announce', req: { ...opts, text: p } };
  if (typeof p === 'number') return { kind: 'announce', req: { ...opts, text: String(p) } };
  if (Buffer.isBuffer(p)) {
    const r = readPcm(msg);
    if (!r.format || r.pcm.length === 0) throw new AnnounceError('announce.noAudioInBuffer', 'the payload Buffer holds no audio to play', {});
    const text = typeof msg.text === 'string' ? msg.text : '';
    return { kind: 'announce', req: { ...opts, text, audio: { pcm: r.pcm, rate: r.format.rate, channels: r.format.channels } } };
  }
  const got = p === null ? 'null' : Array.isArray(p) ? 'an array' : typeof p;
  throw new AnnounceError('announce.badPayload', `payload is ${got}: send text to speak, or a Buffer of PCM (with msg.rate) or a WAV file to play`, { got });
}
