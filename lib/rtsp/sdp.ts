/**
 * The SDP (RFC 4566) describing our audio track (and the video board's, when on), for DESCRIBE
 * answers and ANNOUNCE bodies.
 * No a=ptime / a=maxptime: RFC 7587 §6.1 and §7 make them the receiver's wishes ("that a decoder
 * wants to receive"; in declarative SDP such as RTSP "recommendations by the decoding side"),
 * maxptime defaulting to 120 ms, the longest Opus packet (§4.2), which the idle Opus packets keep to.
 */
import type { PayloadEncoder } from './codecs';

export const TRACK_CONTROL = 'trackID=0';
/** a=control of the video track (the queue board), when there is one */
export const VIDEO_TRACK_CONTROL = 'trackID=1';

/** The video track's media section: RTP/JPEG (RFC 2435, static payload type 26). */
export interface SdpVideo {
  payloadType: number;
  rtpmap: string;
  fmtp?: string;
  fps: number;
  width: number;
  height: number;
}

export function buildSdp(enc: Pick<PayloadEncoder, 'payloadType' | 'rtpmap' | 'fmtp'>, opts: { sessionId: number; address: string; name?: string; video?: SdpVideo }): string {
  const ip6 = opts.address.includes(':');
  const lines = [
    'v=0',
    `o=- ${opts.sessionId} 1 IN ${ip6 ? 'IP6' : 'IP4'} ${opts.address}`,
    `s=${opts.name ?? 'live-audio announcements'}`,
    `c=IN ${ip6 ? 'IP6 ::' : 'IP4 0.0.0.0'}`,
    't=0 0',
    'a=tool:node-red-contrib-live-audio',
    'a=control:*',
    'a=range:npt=now-',
    `m=audio 0 RTP/AVP ${enc.payloadType}`,
    `a=rtpmap:${enc.payloadType} ${enc.rtpmap}`,
  ];
  if (enc.fmtp) lines.push(`a=fmtp:${enc.payloadType} ${enc.fmtp}`);
  lines.push('a=sendonly', `a=control:${TRACK_CONTROL}`);
  const v = opts.video;
  if (v) {
    lines.push(`m=video 0 RTP/AVP ${v.payloadType}`, `a=rtpmap:${v.payloadType} ${v.rtpmap}`);
    if (v.fmtp) lines.push(`a=fmtp:${v.payloadType} ${v.fmtp}`);
    // informative only: a=framerate (RFC 4566 §6) and a=x-dimensions (a de-facto attribute some
    // players read to size their window before the first frame arrives)
    lines.push(`a=framerate:${v.fps}`, `a=x-dimensions:${v.width},${v.height}`, 'a=sendonly', `a=control:${VIDEO_TRACK_CONTROL}`);
  }
  return lines.join('\r\n') + '\r\n';
}
