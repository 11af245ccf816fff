/**
 * The werift layer: every change whep-in makes to werift's internals at run time, behind one
 * entry point that never throws.
 *
 * Why: werift (0.24) spends most of a receiving stream's CPU besides Opus decoding in code an
 * audio-only WHEP client does not need (see each file). The changes reach into werift's private
 * internals, which any werift release may rename. Such a rename must cost speed, never the node:
 * each fast path checks the shape it relies on first, and where werift looks different it leaves
 * werift's own code in place and says why in the report, which whep-in logs once.
 *
 * The fast paths (the names the report, the logs and `npm run bench -- whep --alternate` use):
 * - process-wide, installed by install(): `rtp` (RTP header parsing, rtp.ts), `srtp` (SRTP
 *   decryption, srtp.ts), `events` (werift's Event.execute, event.ts);
 * - per peer connection, set up by shortenRtpRoute() and paceReceiverReports() below once
 *   install() has probed them on a peer connection that never touches the network: `route`
 *   (received RTP past werift's router and receiver) and `udp` (past its ICE and DTLS layers
 *   too), both route.ts; `rr` (receiver reports at RTP's pace, rtcp.ts). A per-connection fast
 *   path whose internals turn out to be missing on a real connection falls back from then on,
 *   and onWeriftFallback() listeners hear it.
 * The benchmark's on/off switches are in bench-switches.ts, which only bench/ imports.
 * `npm test -- werift` (test/whep/werift/) is the gate for every werift upgrade (DEVELOPING.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { RTCPeerConnection, type RTCRtpReceiver, type RtpPacket } from 'werift';
import { installLeanEvents } from './event';
import { paceReceiverReports as paceRr } from './rtcp';
import { shortenRtpRoute as shorten, type RtpRoute } from './route';
import { installFastRtpParsing } from './rtp';
import { installFastSrtp } from './srtp';

export type { RtpRoute } from './route';

export const FAST_PATHS = ['rtp', 'srtp', 'events', 'route', 'udp', 'rr'] as const;
export type FastPath = (typeof FAST_PATHS)[number];

/** The werift release the fast paths mirror and the contract tests (test/whep/werift/) ran against. */
export const TESTED_WERIFT = '0.24.4';

export interface WeriftFallback {
  fastPath: FastPath;
  /** what werift lacks (English, technical: for the log and a bug report) */
  reason: string;
}

export interface WeriftLayerReport {
  /** the installed werift's version ("unknown" when its package.json cannot be read) */
  weriftVersion: string;
  testedWith: string;
  /** fast paths in use */
  active: FastPath[];
  /** fast paths that fell back to werift's own code, each with why */
  fallbacks: WeriftFallback[];
}

let report: WeriftLayerReport | undefined;
const listeners = new Set<(f: WeriftFallback) => void>();

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Installs the process-wide fast paths and probes the per-connection ones, once per process
 * (later calls return the same report, kept up to date). Never throws, whatever werift looks
 * like: a fast path that cannot be had is a fallback in the report.
 */
export function install(): WeriftLayerReport {
  if (report) return report;
  const r: WeriftLayerReport = { weriftVersion: 'unknown', testedWith: TESTED_WERIFT, active: [], fallbacks: [] };
  report = r;
  const settle = (fastPath: FastPath, why: string | undefined) => {
    if (r.active.includes(fastPath) || r.fallbacks.some((f) => f.fastPath === fastPath)) return;
    if (why === undefined) r.active.push(fastPath);
    else r.fallbacks.push({ fastPath, reason: why });
  };
  const attempt = (fastPath: FastPath, f: () => void) => {
    try {
      f();
      settle(fastPath, undefined);
    } catch (err) {
      settle(fastPath, reasonOf(err));
    }
  };
  try {
    r.weriftVersion = weriftVersion();
    attempt('rtp', installFastRtpParsing);
    attempt('srtp', installFastSrtp);
    attempt('events', installLeanEvents);
    const probe = probeConnection();
    for (const p of ['route', 'udp', 'rr'] as const) settle(p, probe[p]);
  } catch (err) {
    // not expected (each step catches its own): whatever is not settled keeps werift's code
    for (const p of FAST_PATHS) settle(p, `the werift layer failed: ${reasonOf(err)}`);
  }
  r.active.sort((a, b) => FAST_PATHS.indexOf(a) - FAST_PATHS.indexOf(b));
  return r;
}

/** Hears each per-connection fast path that falls back after install() (once per fast path). Returns the unsubscribe. */
export function onWeriftFallback(listener: (f: WeriftFallback) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function isActive(fastPath: FastPath): boolean {
  return install().active.includes(fastPath);
}

function fallBack(fastPath: FastPath, reason: string): void {
  const r = install();
  const i = r.active.indexOf(fastPath);
  if (i < 0) return;
  r.active.splice(i, 1);
  const f = { fastPath, reason };
  r.fallbacks.push(f);
  for (const l of listeners) {
    try {
      l(f);
    } catch {
      /* a listener's fault is not the werift layer's */
    }
  }
}

/**
 * `route` (and `udp`) on a peer connection: packets of `receiver` werift has delivered once take
 * the short route to `deliver` from then on (call `learn` with each packet werift delivers to the
 * track). Undefined (werift's route for everything) when the fast path is not active.
 */
export function shortenRtpRoute(pc: RTCPeerConnection, receiver: RTCRtpReceiver, deliver: (rtp: RtpPacket) => void): RtpRoute | undefined {
  if (!isActive('route')) return undefined;
  try {
    return shorten(pc, receiver, deliver, isActive('udp') ? (reason) => fallBack('udp', reason) : undefined);
  } catch (err) {
    fallBack('route', reasonOf(err));
    return undefined;
  }
}

/** `rr` on a peer connection's DTLS transport (after the remote description is set); false when werift's pace stays. */
export function paceReceiverReports(transport: unknown): boolean {
  if (!isActive('rr')) return false;
  try {
    paceRr(transport);
    return true;
  } catch (err) {
    fallBack('rr', reasonOf(err));
    return false;
  }
}

/**
 * The per-connection fast paths tried on a peer connection that is made and closed without
 * gathering (no socket, no packet): what each lacks, if anything.
 */
function probeConnection(): Partial<Record<'route' | 'udp' | 'rr', string>> {
  let pc: RTCPeerConnection | undefined;
  try {
    pc = new RTCPeerConnection({ iceServers: [] });
    const receiver = pc.addTransceiver('audio', { direction: 'recvonly' }).receiver;
    const out: Partial<Record<'route' | 'udp' | 'rr', string>> = {};
    try {
      shorten(pc, receiver, () => undefined);
    } catch (err) {
      out.route = reasonOf(err);
    }
    try {
      paceRr(receiver.dtlsTransport);
    } catch (err) {
      out.rr = reasonOf(err);
    }
    // the datagram shortcut's own internals exist only once ICE has nominated a pair: here, that
    // the route it extends is there and the DTLS transport reaches ICE's connection as expected
    const connection = (receiver.dtlsTransport as unknown as { iceTransport?: { connection?: object } } | undefined)?.iceTransport?.connection;
    if (out.route) out.udp = `needs route: ${out.route}`;
    else if (!connection || !('nominated' in connection)) out.udp = "werift's DTLS transport has no iceTransport.connection.nominated";
    return out;
  } catch (err) {
    const why = `a werift peer connection could not be made to check it: ${reasonOf(err)}`;
    return { route: why, udp: why, rr: why };
  } finally {
    try {
      pc?.close().catch(() => undefined);
    } catch {
      /* a probe that cannot be closed holds no socket: it never gathered */
    }
  }
}

/** The installed werift's version, from its package.json (its "exports" hide it from require). */
function weriftVersion(): string {
  try {
    let dir = path.dirname(require.resolve('werift'));
    for (let i = 0; i < 6; i++) {
      const file = path.join(dir, 'package.json');
      if (fs.existsSync(file)) {
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'werift' && pkg.version) return pkg.version;
      }
      dir = path.dirname(dir);
    }
  } catch {
    /* unknown */
  }
  return 'unknown';
}
