/**
 * The `Transport` header of a player's SETUP (RFC 2326 §12.39), read strictly: the server sends
 * RTP to what it says, so a value it cannot honour exactly is refused (461 Unsupported Transport)
 * rather than guessed at. One function for any SETUP, so a per-track SETUP reuses it.
 */
import { parseTransport } from './message';

/** Where RTP and RTCP go for one player: interleaved channels on its TCP connection, or UDP ports. */
export type PlayerTransport = { kind: 'tcp'; rtp: number; rtcp: number } | { kind: 'udp'; rtp: number; rtcp: number };

/** "a" or "a-b" of decimal digits only (no sign, no spaces inside, no hex), else undefined. */
function numberPair(v: string): [number, number | undefined] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])];
}

/**
 * `client_port=a-b`: RTP on an even port, RTCP on the next one (RFC 3550 §11), both in 1–65535.
 * A single port means that port and the next.
 */
export function clientPorts(v: string | undefined): [number, number] | undefined {
  const p = v === undefined ? undefined : numberPair(v);
  if (!p) return undefined;
  const [rtp, rtcp = rtp + 1] = p;
  if (rtp < 2 || rtp % 2 !== 0 || rtcp !== rtp + 1 || rtcp > 65535) return undefined;
  return [rtp, rtcp];
}

/** `interleaved=a-b`: two different channels in 0–255 (a single one means it and the next). */
export function interleavedChannels(v: string | undefined): [number, number] | undefined {
  const p = v === undefined ? undefined : numberPair(v);
  if (!p) return undefined;
  const [rtp, rtcp = rtp + 1] = p;
  if (rtp > 255 || rtcp > 255 || rtp === rtcp) return undefined;
  return [rtp, rtcp];
}

/**
 * The first offer of a SETUP's Transport header (offers are listed in the player's order of
 * preference) that a unicast play session can serve exactly, or undefined for 461. An offer whose
 * parameters are malformed or out of range is skipped, never repaired: `interleaved=abc` is not
 * channel 0, `client_port=99999-100000` is not a port. An RTP/AVP/TCP offer without
 * `interleaved` leaves the choice to the server (channels 0-1).
 */
export function chooseTransport(header: string | undefined): PlayerTransport | undefined {
  if (!header) return undefined;
  for (const t of parseTransport(header)) {
    if ('multicast' in t.params) continue;
    if (t.params['mode'] && !/play/i.test(t.params['mode'])) continue;
    if (t.profile === 'RTP/AVP/TCP') {
      const ch = 'interleaved' in t.params ? interleavedChannels(t.params['interleaved']) : [0, 1];
      if (ch) return { kind: 'tcp', rtp: ch[0], rtcp: ch[1] };
    } else if (t.profile === 'RTP/AVP' || t.profile === 'RTP/AVP/UDP') {
      const ports = clientPorts(t.params['client_port']);
      if (ports) return { kind: 'udp', rtp: ports[0], rtcp: ports[1] };
    }
  }
  return undefined;
}

/** The Transport header of the SETUP answer; `serverPorts` are ours for UDP. */
export function transportReply(t: PlayerTransport, serverPorts: [number, number]): string {
  return t.kind === 'tcp'
    ? `RTP/AVP/TCP;unicast;interleaved=${t.rtp}-${t.rtcp}`
    : `RTP/AVP;unicast;client_port=${t.rtp}-${t.rtcp};server_port=${serverPorts[0]}-${serverPorts[1]}`;
}
