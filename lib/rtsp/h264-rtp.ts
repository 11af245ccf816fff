/**
 * RTP payload format for H.264 (RFC 6184), packetization-mode=1 (non-interleaved): each NAL unit
 * of an access unit goes out as one RTP payload when it fits (single NAL unit packet, §5.6), and
 * cut into FU-A fragments (§5.8) when it does not. The sender puts the marker bit on the access
 * unit's last packet. Access unit delimiters are dropped (a receiver finds access units by the
 * RTP timestamp and marker bit; §5.1 leaves them to the sender).
 * Also: the SDP's profile-level-id and sprop-parameter-sets (§8.1), taken from the SPS and PPS.
 */
import { JPEG_MAX_PAYLOAD } from './jpeg-rtp';

export const H264_CLOCK_RATE = 90000;
/** Dynamic payload type of the video track (the audio's is 96..97 for Opus/AAC: 98 is free for all). */
export const H264_PAYLOAD_TYPE = 98;
/** The same packet size as RTP/JPEG: an RTP packet of ≤ 1400 bytes fits any path MTU we meet. */
export const H264_MAX_PAYLOAD = JPEG_MAX_PAYLOAD;

export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;
const FU_A = 28;

export const nalType = (nal: Buffer): number => nal[0] & 0x1f;

/**
 * The RTP payloads of one access unit (its NAL units in decoding order, without start codes or
 * length prefixes), in order: the last one is sent with the marker bit.
 */
export function h264Payloads(nals: readonly Buffer[], maxPayload = H264_MAX_PAYLOAD): Buffer[] {
  const out: Buffer[] = [];
  for (const nal of nals) {
    if (nal.length === 0 || nalType(nal) === NAL_AUD) continue;
    if (nal.length <= maxPayload) {
      out.push(nal);
      continue;
    }
    // FU-A: the FU indicator keeps the NAL header's F and NRI bits with type 28; the FU header
    // has S (first fragment), E (last) and the original type; the NAL header itself is not sent
    const indicator = (nal[0] & 0xe0) | FU_A;
    const type = nal[0] & 0x1f;
    const chunk = maxPayload - 2;
    for (let o = 1; o < nal.length; o += chunk) {
      const end = Math.min(nal.length, o + chunk);
      const p = Buffer.allocUnsafe(2 + end - o);
      p[0] = indicator;
      p[1] = (o === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
      nal.copy(p, 2, o, end);
      out.push(p);
    }
  }
  return out;
}

/**
 * Rebuilds NAL units from RTP payloads of packetization-mode 1 (single NAL units and FU-A); the
 * tests use it to check the packetizer, and it documents what a receiver does.
 */
export function depacketizeH264(payloads: readonly Buffer[]): Buffer[] {
  const nals: Buffer[] = [];
  let fu: Buffer[] | undefined;
  for (const p of payloads) {
    const type = p[0] & 0x1f;
    if (type !== FU_A) {
      if (fu) throw new Error('FU-A fragment missing its end');
      nals.push(p);
      continue;
    }
    const start = (p[1] & 0x80) !== 0;
    const end = (p[1] & 0x40) !== 0;
    if (start) {
      if (fu) throw new Error('FU-A start inside a fragmented NAL unit');
      fu = [Buffer.from([(p[0] & 0xe0) | (p[1] & 0x1f)])];
    } else if (!fu) throw new Error('FU-A fragment without a start');
    fu.push(p.subarray(2));
    if (end) {
      nals.push(Buffer.concat(fu));
      fu = undefined;
    }
  }
  if (fu) throw new Error('FU-A fragment missing its end');
  return nals;
}

/** The SDP fmtp of an H.264 stream with this SPS and PPS (RFC 6184 §8.1). */
export function h264Fmtp(sps: Buffer, pps: Buffer): string {
  // profile_idc, constraint flags, level_idc: the three bytes after the SPS's NAL header
  const profileLevelId = sps.subarray(1, 4).toString('hex');
  return `packetization-mode=1;profile-level-id=${profileLevelId};sprop-parameter-sets=${sps.toString('base64')},${pps.toString('base64')}`;
}

/** SPS and PPS from an AVCDecoderConfigurationRecord (ISO 14496-15 §5.2.4.1: FLV's and MP4's avcC). */
export function parseAvcC(rec: Buffer): { sps: Buffer; pps: Buffer; lengthSize: number } {
  if (rec.length < 7 || rec[0] !== 1) throw new Error('not an AVC decoder configuration record');
  const lengthSize = (rec[4] & 3) + 1;
  let o = 5;
  const read = (): Buffer => {
    const n = rec.readUInt16BE(o);
    const b = rec.subarray(o + 2, o + 2 + n);
    if (b.length !== n) throw new Error('AVC decoder configuration record cut short');
    o += 2 + n;
    return b;
  };
  const nSps = rec[o++] & 0x1f;
  const spss: Buffer[] = [];
  for (let i = 0; i < nSps; i++) spss.push(read());
  const nPps = rec[o++];
  const ppss: Buffer[] = [];
  for (let i = 0; i < nPps; i++) ppss.push(read());
  if (!spss[0] || !ppss[0]) throw new Error('no SPS or PPS in the AVC decoder configuration record');
  return { sps: Buffer.from(spss[0]), pps: Buffer.from(ppss[0]), lengthSize };
}

/** NAL units of a length-prefixed access unit (AVCC: FLV's and MP4's framing). */
export function splitLengthPrefixed(data: Buffer, lengthSize: number): Buffer[] {
  const nals: Buffer[] = [];
  let o = 0;
  while (o + lengthSize <= data.length) {
    const n = data.readUIntBE(o, lengthSize);
    o += lengthSize;
    if (o + n > data.length) throw new Error('NAL unit longer than its access unit');
    nals.push(data.subarray(o, o + n));
    o += n;
  }
  return nals;
}
