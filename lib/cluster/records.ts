/**
 * What the workers of a cluster publish on the broker, and the two rules every worker applies the
 * same way: which of two claims on a stream wins, and which live worker takes an orphaned stream.
 * Both rules are deterministic, so workers that see the same records decide the same thing
 * without talking to each other (MQTT has no compare-and-set).
 */

/** The request a dispatcher publishes (the message whep-in takes), plus the hop count of a forward. */
export interface StreamRequest {
  action: 'start' | 'stop';
  stmId?: string;
  url?: string;
  traceId?: string;
  token?: string;
  /** how many full workers passed this start on (see StreamLease) */
  hops?: number;
}

/** Retained on `<prefix>/stream/<stmId>`: who runs the stream, since when, and how to run it. */
export interface ClaimRecord {
  stmId: string;
  /** '' = released by its worker (over capacity after a restart): any live worker may take it */
  workerId: string;
  /** +1 at every claim of this stream; the higher epoch wins, then the higher worker id */
  epoch: number;
  /** ISO time of this claim */
  since: string;
  url: string;
  traceId?: string;
  token?: string;
}

/** Retained on `<prefix>/worker/<workerId>` and renewed every heartbeat; the last will empties it. */
export interface WorkerRecord {
  workerId: string;
  maxStreams: number;
  running: number;
  /** ISO time the worker connected */
  since: string;
  /** ISO time of this heartbeat */
  at: string;
}

/** Retained on `<prefix>/stream/<stmId>/state`: the owner's last whep-in event for the stream. */
export interface StateRecord {
  stmId: string;
  workerId: string;
  /** whep-in's event (connecting, connected, idle, resumed, reconnecting) or 'refused' */
  state: string;
  since: string;
  at: string;
  stats?: unknown;
  error?: { code?: string; message: string };
}

/** MQTT topic levels cannot hold '/', '+', '#' (and should not hold '%'): encode the stmId. */
export function topicLevel(s: string): string {
  return encodeURIComponent(s);
}

/** >0 when claim a beats claim b: higher epoch, then higher worker id (a total order). */
export function compareClaims(a: Pick<ClaimRecord, 'epoch' | 'workerId'>, b: Pick<ClaimRecord, 'epoch' | 'workerId'>): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  return a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0;
}

/** FNV-1a, 32 bit: a stable score that every worker computes alike (no Math.random, no clock). */
function score(stmId: string, workerId: string): number {
  let h = 0x811c9dc5;
  const s = `${stmId}\u0000${workerId}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Rendezvous hashing with capacity: orphans in stmId order, each to the live worker with room
 * that scores highest for it. Returns stmId → workerId for the orphans that found room.
 */
export function assignOrphans(orphans: string[], free: Map<string, number>): Map<string, string> {
  const left = new Map(free);
  const out = new Map<string, string>();
  for (const stmId of [...orphans].sort()) {
    let best: string | undefined;
    let bestScore = -1;
    for (const [w, n] of left) {
      if (n <= 0) continue;
      const sc = score(stmId, w);
      if (sc > bestScore || (sc === bestScore && best !== undefined && w > best)) {
        best = w;
        bestScore = sc;
      }
    }
    if (best === undefined) break;
    out.set(stmId, best);
    left.set(best, left.get(best)! - 1);
  }
  return out;
}

/** A JSON object from a message payload, or undefined (an empty retained payload = deleted). */
export function parseRecord<T>(payload: Buffer): T | undefined {
  if (!payload.length) return undefined;
  try {
    const v = JSON.parse(payload.toString('utf8'));
    return v && typeof v === 'object' ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}
