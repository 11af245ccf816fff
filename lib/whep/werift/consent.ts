/**
 * Reads, never changes, werift's ICE consent bookkeeping (RFC 7675) to tell a dead server from a
 * quiet one. werift checks consent every 4–6 s but declares the connection failed only 30 s after
 * the last answer; a server that stopped answering two checks in a row while no RTP arrives is
 * gone (a server that merely has no publisher, like SRS, keeps answering). The counters live on
 * werift's nominated candidate pair (`consentRequestsSent`, `responsesReceived`); if they are not
 * there (another werift), this returns undefined and werift's own 30 s expiry is what is left.
 */
import type { RTCPeerConnection } from 'werift';

interface PairCounters {
  consentRequestsSent: number;
  responsesReceived: number;
}

/** How many consent checks went unanswered since the last answer (the one in flight not counted). */
export type ConsentProbe = (now: number) => number;

/** A probe for this connection, or undefined when werift keeps no such counters. */
export function watchConsent(pc: RTCPeerConnection, responseWaitMs = 1500): ConsentProbe | undefined {
  const pair = (): PairCounters | undefined => {
    try {
      const conn = (pc as unknown as { iceTransports?: Array<{ connection?: { nominated?: Partial<PairCounters> } }> }).iceTransports?.[0]?.connection;
      const n = conn?.nominated;
      if (n && typeof n.consentRequestsSent === 'number' && typeof n.responsesReceived === 'number') return n as PairCounters;
    } catch {
      /* a werift whose shape differs: no probe */
    }
    return undefined;
  };
  if (!pair()) return undefined;
  let answered = -1;
  let sentAtAnswer = 0;
  let lastSent = -1;
  let lastSentAt = 0;
  return (now) => {
    const p = pair();
    if (!p) return 0;
    if (p.responsesReceived !== answered) {
      answered = p.responsesReceived;
      sentAtAnswer = p.consentRequestsSent;
    }
    if (p.consentRequestsSent !== lastSent) {
      lastSent = p.consentRequestsSent;
      lastSentAt = now;
    }
    const pending = now - lastSentAt < responseWaitMs ? 1 : 0;
    return Math.max(0, p.consentRequestsSent - sentAtAnswer - pending);
  };
}
