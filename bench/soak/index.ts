/**
 * The soak: the promises of the "trust under faults" work, held over many faults in one bounded
 * run (at most about 8 minutes), ending with one JSON line.
 *   npm run bench -- soak            all three parts
 *   npm run bench -- soak whep ws    only the named parts
 * - whep: random start/stop cycles of whep-in against the werift source in its own process:
 *   sessions left at the source, fds and RSS before and after;
 * - ws: a real receiver killed mid-stream, ack mode on and off: chunks lost, unconfirmed, and
 *   lost without being counted (must be 0);
 * - rtsp: a real player's decoded duration against wall clock while hostile RTSP clients run.
 * The parts run one after another in this process; fds and RSS are also taken around all of them.
 */
import { readdirSync } from 'node:fs';
import { run as whepSessions } from './whep-sessions';
import { run as wsKills } from './ws-kills';
import { run as rtspHostile } from './rtsp-hostile';

const parts: Record<string, () => Promise<Record<string, number>>> = { whep: whepSessions, ws: wsKills, rtsp: rtspHostile };

async function main(): Promise<void> {
  const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = asked.length ? asked : Object.keys(parts);
  for (const n of names) if (!parts[n]) throw new Error(`unknown soak part "${n}": ${Object.keys(parts).join(', ')}`);
  const started = Date.now();
  const out: Record<string, number | string> = { fdsBeforeAll: fdCount(), rssMbBeforeAll: Math.round(process.memoryUsage().rss / 1048576) };
  for (const n of names) {
    const t0 = Date.now();
    process.stderr.write(`soak: ${n}…\n`);
    Object.assign(out, await parts[n]());
    process.stderr.write(`soak: ${n} done in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  // the whole soak in one process: what is still open or held after every part has finished
  (globalThis as { gc?: () => void }).gc?.();
  out.fdsAfterAll = fdCount();
  out.rssMbAfterAll = Math.round(process.memoryUsage().rss / 1048576);
  out.seconds = Math.round((Date.now() - started) / 1000);
  out.node = process.version;
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

function fdCount(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1; // no /proc (Windows, macOS)
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
