/**
 * The SDP (RFC 4566) describing our one audio track, for DESCRIBE answers and ANNOUNCE bodies.
 * No a=ptime / a=maxptime: RFC 7587 §6.1 and §7 make them the receiver's wishes ("that a decoder
 * wants to receive"; in declarative SDP such as RTSP "recommendations by the decoding side"),
 * maxptime defaulting to 120 ms, the longest Opus packet (§4.2), which the idle Opus packets keep to.
 */
import type { PayloadEncoder } from './codecs';

export const TRACK_CONTROL = 'trackID=0';

export function buildSdp(enc: Pick<PayloadEncoder, 'payloadType' | 'rtpmap' | 'fmtp'>, opts: { sessionId: number; address: string; name?: string }): string {
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
  return lines.join('\r\n') + '\r\n';
}
