/**
 * Tolerant reading of WHEP SDP answers. Servers in the field write SDP that strict parsers
 * stumble on: SRS emits `a=fmtp:111 ;minptime=10;useinbandfec=1` (a leading ';'), answers
 * ICE-lite without `a=end-of-candidates`, and some servers end lines with a bare LF.
 */
import { CodedError } from '../util/errors';

/** Returns an answer werift accepts, or throws a CodedError saying what is wrong with it. */
export function sanitizeAnswer(sdp: string): string {
  if (typeof sdp !== 'string' || !sdp.trimStart().startsWith('v=')) {
    throw new CodedError('whep.sdpNotSdp', 'the answer is not SDP (it does not start with "v=")', {});
  }
  const lines = sdp
    .trim()
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    // a=fmtp:111 ;minptime=10 → a=fmtp:111 minptime=10 (and empty parameters dropped)
    .map((l) => (l.startsWith('a=fmtp:') ? l.replace(/^(a=fmtp:\d+)\s*;*\s*/, '$1 ').replace(/;;+/g, ';').replace(/;\s*$/, '') : l));
  const audio = lines.filter((l) => l.startsWith('m=audio '));
  if (audio.length === 0) throw new CodedError('whep.sdpNoAudio', 'the answer has no audio section (m=audio)', {});
  if (!lines.some((l) => /^a=rtpmap:\d+ opus\/48000/i.test(l))) {
    throw new CodedError('whep.sdpNoOpus', 'the answer offers no Opus audio (a=rtpmap:… opus/48000)', {});
  }
  if (!lines.some((l) => l.startsWith('a=fingerprint:'))) throw new CodedError('whep.sdpNoFingerprint', 'the answer has no DTLS fingerprint (a=fingerprint)', {});
  if (!lines.some((l) => l.startsWith('a=ice-ufrag:'))) throw new CodedError('whep.sdpNoIce', 'the answer has no ICE credentials (a=ice-ufrag)', {});
  return lines.join('\r\n') + '\r\n';
}
