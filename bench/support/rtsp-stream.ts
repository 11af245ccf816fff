/**
 * What a minimal RTSP player over TCP receives, split into interleaved `$` frames and responses
 * (the benchmarks' player: bench/support/rtsp-player.ts).
 */
export interface RtspResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Hands every whole `$` frame (channel, frame bytes) and response in `buf` to its callback and
 * returns what is left: the start of one not yet whole, to prepend to the next data.
 */
export function splitRtsp(buf: Buffer, onFrame: (channel: number, frame: Buffer) => void, onResponse: (res: RtspResponse) => void): Buffer {
  for (;;) {
    if (buf.length === 0) return buf;
    if (buf[0] === 0x24) {
      if (buf.length < 4) return buf;
      const len = buf.readUInt16BE(2);
      if (buf.length < 4 + len) return buf;
      onFrame(buf[1], buf.subarray(4, 4 + len));
      buf = buf.subarray(4 + len);
      continue;
    }
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return buf;
    const head = buf.subarray(0, end).toString();
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + len) return buf;
    const body = buf.subarray(end + 4, end + 4 + len).toString();
    buf = buf.subarray(end + 4 + len);
    onResponse({ status: Number(/^RTSP\/1.0 (\d+)/.exec(head)?.[1] ?? 0), headers, body });
  }
}
