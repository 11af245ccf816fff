/**
 * Soak part: tts-rtsp-out's serve mode (the engine, no Node-RED) under 200 hostile RTSP
 * connections while one real ffmpeg player decodes the stream. The stream is what the node runs
 * (announcement stream: pacer, Opus, silence packets between announcements), with an
 * announcement (a 1 s tone) every 3 s. The hostile clients are raw sockets on 127.0.0.1, in four
 * waves of 50: half requests (slowloris), requests trickled a byte at a time, SETUPs with
 * Transports we cannot honour (client_port=99999-100000, 0-1, interleaved=abc…) followed by a
 * PLAY, interleaved `$` frames before any request (one cut short), and silent connections.
 *
 * `run()` is called by bench/soak/index.ts and resolves with its figures; it takes about 45 s
 * (bounded: every wait has a limit). playerRealtimeRatio = audio the player decoded / wall-clock
 * time from its PLAY to its exit (1 = real time: nobody's stream was slowed, sped up or cut).
 */
import { createStation } from '../../lib/announce';
import type { AnnouncementEvent } from '../../lib/announce';
import type { RtspOutput } from '../../lib/rtsp';
import { REQUEST_TIMEOUT_MS } from '../../lib/rtsp/server';
import { freePort, spawnPeer, until } from '../../test/support/processes';
import { readWav, runs, tone, toneTrack } from '../../test/announce/support';
import { BAD_TRANSPORTS, RawRtsp, interleavedRtcp } from '../../test/rtsp/hostile-clients';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Seconds of audio the real player decodes. */
const PLAYER_SECONDS = 30;
const WAVES = 4;
const PER_WAVE = 50;
const WAVE_GAP_MS = 4000;

type Kind = 'half' | 'trickle' | 'badSetup' | 'dollar' | 'silent';
const KINDS: Kind[] = ['half', 'trickle', 'badSetup', 'dollar', 'silent'];

interface Hostile {
  kind: Kind;
  c: RawRtsp;
  openedAt: number;
  closedAt?: number;
}

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'soak-rtsp-hostile-'));
  const port = await freePort();
  const station = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'announce', chime: 'none' });
  const out = station.output as RtspOutput;
  const url = `rtsp://127.0.0.1:${port}/announce`;
  const hostile: Hostile[] = [];
  const timers: NodeJS.Timeout[] = [];
  let player: ReturnType<typeof spawnPeer> | undefined;
  try {
    const events: AnnouncementEvent[] = [];
    station.on('event', (e: AnnouncementEvent) => events.push(e));
    const playStarts = new Map<string, number>();
    out.on('listener', (e: { remote: string }) => {
      if (!playStarts.has(e.remote)) playStarts.set(e.remote, performance.now());
    });
    await station.start();

    // the real player
    const file = join(dir, 'player.wav');
    player = spawnPeer(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'warning', '-nostdin', '-rtsp_transport', 'tcp', '-i', url, '-t', String(PLAYER_SECONDS), '-ac', '1', '-ar', '48000', '-y', file],
      (PLAYER_SECONDS + 40) * 1000,
    );
    await until(() => playStarts.size === 1, 15000, `the player (${player.stderr()})`);
    const [playerRemote, playStart] = [...playStarts][0];

    // an announcement every 3 s while it plays
    const announceTimer = setInterval(() => {
      station.announce({ audio: { pcm: tone(48000, 1000, 1000), rate: 48000, channels: 1 }, priority: 0 });
    }, 3000);
    timers.push(announceTimer);

    // the hostile waves
    let badSetups = 0;
    let badSetupsRefused = 0;
    const trickle = setInterval(() => {
      for (const h of hostile) if (h.kind === 'trickle' && !h.closedAt) h.c.write('x');
    }, 300);
    timers.push(trickle);
    const waveOf = async (wave: number) => {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < PER_WAVE; i++) {
        const kind = KINDS[(wave * PER_WAVE + i) % KINDS.length];
        const c = new RawRtsp(port);
        const h: Hostile = { kind, c, openedAt: performance.now() };
        hostile.push(h);
        c.sock.on('close', () => (h.closedAt = performance.now()));
        pending.push(
          c.opened.then(async () => {
            if (kind === 'half') c.write(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n`);
            else if (kind === 'trickle') c.write('DESCRIBE ');
            else if (kind === 'dollar') c.write(Buffer.concat([interleavedRtcp(1), Buffer.from([0x24, 0x01, 0xff, 0xff, 1, 2, 3])]));
            else if (kind === 'badSetup') {
              const transport = BAD_TRANSPORTS[(wave * PER_WAVE + i) % BAD_TRANSPORTS.length];
              badSetups++;
              const status = await c.setupAndPlay(url, transport).catch(() => 0);
              if (status === 461) badSetupsRefused++;
              c.destroy(); // done with it (a refused client goes away)
            }
          }, () => undefined),
        );
      }
      await Promise.all(pending);
    };
    for (let w = 0; w < WAVES; w++) {
      await waveOf(w);
      if (w < WAVES - 1) await new Promise((r) => setTimeout(r, WAVE_GAP_MS));
    }

    // the player ends after PLAYER_SECONDS of audio
    const code = await player.exited;
    const end = performance.now();
    clearInterval(announceTimer);
    clearInterval(trickle);
    const slow = hostile.filter((h) => h.kind !== 'badSetup');
    await until(() => slow.every((h) => h.closedAt !== undefined), REQUEST_TIMEOUT_MS + 10000, 'the server to close every slow connection').catch(() => undefined);
    const { pcm, rate } = readWav(file);
    const decodedS = pcm.length / 2 / rate;
    const wallS = (end - (playStarts.get(playerRemote) ?? playStart)) / 1000;
    // announcements heard: runs of the 1 kHz tone at least 800 ms long
    const heard = runs(toneTrack(pcm, rate, [1000, 300])).filter(([f, n]) => f === 1000 && n >= 40).length;
    const closeMs = slow.filter((h) => h.closedAt !== undefined).map((h) => h.closedAt! - h.openedAt);
    const st = out.stats();
    return {
      playerRealtimeRatio: Math.round((decodedS / wallS) * 1000) / 1000,
      playerExitCode: code ?? -1,
      playerDecodedS: Math.round(decodedS * 100) / 100,
      playerWallS: Math.round(wallS * 100) / 100,
      hostileConnections: hostile.length,
      badSetups,
      badSetupsRefused,
      slowConnections: slow.length,
      slowClosedByServer: closeMs.length,
      slowCloseMaxMs: Math.round(Math.max(0, ...closeMs)),
      announcementsPlayed: events.filter((e) => e.event === 'finished').length,
      announcementsHeard: heard,
      setupsRefused: st.setupsRefused,
      connectionsTimedOut: st.connectionsTimedOut,
      playersDropped: st.playersDropped,
    };
  } finally {
    for (const t of timers) clearInterval(t);
    player?.kill();
    for (const h of hostile) h.c.destroy();
    await station.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
