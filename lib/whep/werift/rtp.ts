/**
 * `rtp`: a faster RTP header parser for werift (0.24), installed once per process by
 * `install()` (lib/whep/werift/index.ts).
 *
 * Why: werift builds an `RtpHeader` three times for every received packet (SRTP decryption parses
 * the header, the decrypted packet is parsed again, the receiver clones it before handing it to
 * the track), and each build is slow: the compiled class defines its 15 fields with
 * `Object.defineProperty` and reads the header bits through `getBit`, which goes through a
 * binary string (`n.toString(2).split("")`) (its cost: docs/benchmarks.md,
 * `npm run bench -- whep --alternate ";rtp"`).
 *
 * What: `RtpHeader.deSerialize` and `RtpPacket.prototype.clone` are replaced by versions that
 * return the same objects (instances of werift's `RtpHeader`, same own fields in the same order,
 * same values, same errors on truncated input), built by a plain constructor that shares
 * werift's prototype. Nothing else changes; werift's own code paths call these two through
 * the class, so both its SRTP and its RTP layers pick them up. `test/whep/werift/rtp.test.ts`
 * compares both parsers on packets with CSRCs, one- and two-byte header extensions, padding and
 * truncation, so a werift upgrade that changes the header shape fails there instead of silently;
 * at run time, a werift whose `RtpHeader` has other fields keeps its own parser. Nothing here
 * touches werift before install(): a werift without these exports cannot break loading.
 */
import { RtpHeader, RtpPacket } from 'werift';

type Ext = { id: number; payload: Buffer };

const ONE_BYTE = 0xbede;
const TWO_BYTE = 0x1000;

// A constructor function (not a class) whose instances are `RtpHeader`s: fields are plain
// assignments in the order werift's constructor defines them, so V8 gives every header one
// hidden class and allocates it in one step.
interface FastHeader {
  version: number;
  padding: boolean;
  paddingSize: number;
  extension: boolean;
  marker: boolean;
  payloadOffset: number;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcLength: number;
  csrc: number[];
  extensionProfile: number;
  extensionLength: number | undefined;
  extensions: Ext[];
}
const FastRtpHeader = function (this: FastHeader) {
  this.version = 2;
  this.padding = false;
  this.paddingSize = 0;
  this.extension = false;
  this.marker = false;
  this.payloadOffset = 0;
  this.payloadType = 0;
  this.sequenceNumber = 0;
  this.timestamp = 0;
  this.ssrc = 0;
  this.csrcLength = 0;
  this.csrc = [];
  this.extensionProfile = ONE_BYTE;
  this.extensionLength = undefined;
  this.extensions = [];
} as unknown as new () => FastHeader;

/** Same result as werift 0.24's `RtpHeader.deSerialize`, without the string-based bit reads. */
export function fastDeserializeRtpHeader(raw: Buffer): RtpHeader {
  const h = new FastRtpHeader();
  const b0 = raw[0];
  h.version = b0 >> 6;
  h.padding = (b0 & 0x20) !== 0;
  h.extension = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  h.csrcLength = cc;
  const b1 = raw[1];
  h.marker = (b1 & 0x80) !== 0;
  h.payloadType = b1 & 0x7f;
  h.sequenceNumber = raw.readUInt16BE(2);
  h.timestamp = raw.readUInt32BE(4);
  h.ssrc = raw.readUInt32BE(8);
  const csrc = new Array<number>(cc);
  for (let i = 0; i < cc; i++) csrc[i] = raw.readUInt32BE(12 + 4 * i); // throws on truncation, as werift does
  h.csrc = csrc;
  let off = 12 + 4 * cc;
  if (h.extension) {
    h.extensionProfile = raw.readUInt16BE(off);
    off += 2;
    const extensionLength = raw.readUInt16BE(off) * 4;
    h.extensionLength = extensionLength;
    off += 2;
    const exts: Ext[] = [];
    const end = off + extensionLength;
    if (h.extensionProfile === ONE_BYTE) {
      // RFC 8285 one-byte header extensions
      while (off < end) {
        const v = raw[off];
        if (v === 0x00) {
          off++;
          continue;
        }
        const id = v >> 4;
        // werift computes the length as (v & (v ^ 0xf0)) + 1, i.e. the low nibble + 1, except
        // for undefined bytes past the end (then NaN + 1): keep its exact expression
        const len = (v & (v ^ 0xf0)) + 1;
        off++;
        if (id === 0xf) break;
        exts.push({ id, payload: raw.subarray(off, off + len) });
        off += len;
      }
    } else if (h.extensionProfile === TWO_BYTE) {
      // RFC 8285 two-byte header extensions
      while (off < end) {
        if (raw[off] === 0x00) {
          off++;
          continue;
        }
        const id = raw[off];
        off++;
        const len = raw[off];
        off++;
        exts.push({ id, payload: raw.subarray(off, off + len) });
        off += len;
      }
    } else {
      const payload = raw.subarray(off, off + extensionLength);
      exts.push({ id: 0, payload });
      off += payload.length;
    }
    h.extensions = exts;
  }
  h.payloadOffset = off;
  if (h.padding) h.paddingSize = raw[raw.length - 1];
  return h as unknown as RtpHeader;
}

/** Same result as werift 0.24's `RtpPacket.prototype.clone` (a shallow copy of the header). */
function fastClone(this: RtpPacket): RtpPacket {
  const s = this.header as unknown as FastHeader;
  const h = new FastRtpHeader();
  h.version = s.version;
  h.padding = s.padding;
  h.paddingSize = s.paddingSize;
  h.extension = s.extension;
  h.marker = s.marker;
  h.payloadOffset = s.payloadOffset;
  h.payloadType = s.payloadType;
  h.sequenceNumber = s.sequenceNumber;
  h.timestamp = s.timestamp;
  h.ssrc = s.ssrc;
  h.csrcLength = s.csrcLength;
  h.csrc = s.csrc;
  h.extensionProfile = s.extensionProfile;
  h.extensionLength = s.extensionLength;
  h.extensions = s.extensions;
  return new RtpPacket(h as unknown as RtpHeader, this.payload);
}

/** werift's own implementations (for the equivalence test and the benchmark's baseline), kept at the first install. */
export const weriftOriginal = {} as { deSerialize: typeof RtpHeader.deSerialize; clone: RtpPacket['clone'] };

// the fields of werift 0.24's RtpHeader, in order: a werift whose header differs keeps its own parser
const FIELDS = 'version,padding,paddingSize,extension,marker,payloadOffset,payloadType,sequenceNumber,timestamp,ssrc,csrcLength,csrc,extensionProfile,extensionLength,extensions';

/** Installs the fast parser into werift (idempotent); throws why (nothing changed) if werift's header is not the one it mirrors. */
export function installFastRtpParsing(): void {
  if (typeof RtpHeader !== 'function' || typeof RtpHeader.deSerialize !== 'function') throw new Error('werift exports no RtpHeader.deSerialize');
  if (typeof RtpPacket !== 'function' || typeof RtpPacket.prototype.clone !== 'function') throw new Error('werift exports no RtpPacket.prototype.clone');
  if (RtpHeader.deSerialize === fastDeserializeRtpHeader) return;
  const fields = Object.keys(new RtpHeader()).join(',');
  if (fields !== FIELDS) throw new Error(`werift's RtpHeader fields changed: ${fields}`);
  FastRtpHeader.prototype = RtpHeader.prototype;
  if (Object.keys(new FastRtpHeader()).join(',') !== FIELDS) throw new Error('the mirrored RtpHeader fields differ');
  weriftOriginal.deSerialize = RtpHeader.deSerialize;
  weriftOriginal.clone = RtpPacket.prototype.clone;
  RtpHeader.deSerialize = fastDeserializeRtpHeader;
  RtpPacket.prototype.clone = fastClone;
}

/** Puts werift's own parser back (the benchmark's `--baseline`). */
export function uninstallFastRtpParsing(): void {
  if (RtpHeader.deSerialize !== fastDeserializeRtpHeader) return;
  RtpHeader.deSerialize = weriftOriginal.deSerialize;
  RtpPacket.prototype.clone = weriftOriginal.clone;
}
