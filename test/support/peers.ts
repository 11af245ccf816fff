/**
 * Real peers that are programs on the machine (ffmpeg, GStreamer, Python modules, Chromium,
 * Mosquitto…): whether each is there, and how to install it. A test whose peer is missing is
 * skipped with one line naming the peer and the install command, and the runner
 * (scripts/run-tests.js) lists every such skip at the end. Under CI (`CI=true`) or
 * `LIVE_AUDIO_STRICT_PEERS=1` nothing is skipped: the missing peer is thrown as an error so the
 * run fails, because CI must keep proving every peer.
 *
 *   test('plays', { skip: missingPeer('ffmpeg') }, async () => { … });
 *   describe('push', { skip: missingPeer('ffmpeg', 'gst-rtsp-server') }, () => { … });
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';

/** The Python that sees Debian's python3-* modules (the pyenv one first on PATH does not). */
export const PYTHON = process.env.LIVE_AUDIO_PYTHON || '/usr/bin/python3';
/** Chromium for the editor tests (playwright-core drives it). */
export const CHROMIUM = process.env.LIVE_AUDIO_CHROMIUM || '/usr/bin/chromium';

interface PeerCheck {
  /** the command and arguments that exit 0 when the peer is usable */
  probe: [string, ...string[]];
  /** the Debian package(s) that provide it */
  apt: string;
}

const PEERS = {
  ffmpeg: { probe: ['ffmpeg', '-hide_banner', '-version'], apt: 'ffmpeg' },
  ffprobe: { probe: ['ffprobe', '-hide_banner', '-version'], apt: 'ffmpeg' },
  gstreamer: {
    probe: ['gst-inspect-1.0', 'rtspsrc'],
    apt: 'gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav',
  },
  'gst-rtsp-server': {
    probe: [PYTHON, '-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"],
    apt: 'gir1.2-gst-rtsp-server-1.0 python3-gi',
  },
  'espeak-ng': { probe: ['espeak-ng', '--version'], apt: 'espeak-ng' },
  'fonts-noto-cjk': { probe: ['test', '-f', '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc'], apt: 'fonts-noto-cjk' },
  sox: { probe: ['sox', '--version'], apt: 'sox' },
  aiortc: { probe: [PYTHON, '-c', 'import aiortc'], apt: 'python3-aiortc' },
  websockets: { probe: [PYTHON, '-c', 'import websockets'], apt: 'python3-websockets' },
  openssl: { probe: ['openssl', 'version'], apt: 'openssl' },
  chromium: { probe: [CHROMIUM, '--version'], apt: 'chromium' },
  mosquitto: { probe: ['mosquitto', '-h'], apt: 'mosquitto' },
} satisfies Record<string, PeerCheck>;

export type PeerName = keyof typeof PEERS;

const present = new Map<PeerName, boolean>();

/** Whether the peer is on this machine (probed once per process). */
export function hasPeer(name: PeerName): boolean {
  let ok = present.get(name);
  if (ok === undefined) {
    const [cmd, ...args] = PEERS[name].probe;
    // mosquitto -h exits 3 after printing its usage: it ran, so it is there
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20000 });
    ok = r.error === undefined && (r.status === 0 || (name === 'mosquitto' && r.status === 3));
    present.set(name, ok);
  }
  return ok;
}

/** True where a missing peer must fail the run instead of skipping the test. */
export const strictPeers = process.env.CI === 'true' || process.env.LIVE_AUDIO_STRICT_PEERS === '1';

/**
 * `false` when every named peer is here (the test runs), else the one-line reason to skip with.
 * Under strict mode a missing peer throws instead, failing the file loudly.
 */
export function missingPeer(...names: PeerName[]): string | false {
  const missing = names.filter((n) => !hasPeer(n));
  if (missing.length === 0) return false;
  const pkgs = [...new Set(missing.map((n) => PEERS[n].apt))].join(' ');
  const reason = `needs ${missing.join(', ')}: sudo apt-get install -y ${pkgs}`;
  if (strictPeers) throw new Error(`missing test peer (strict: CI=true or LIVE_AUDIO_STRICT_PEERS=1): ${reason}`);
  if (process.env.LIVE_AUDIO_SKIP_LOG) {
    try {
      appendFileSync(process.env.LIVE_AUDIO_SKIP_LOG, `${reason}\n`);
    } catch {
      /* the summary is a courtesy; the skip itself is reported by the runner */
    }
  }
  return reason;
}

/**
 * What GStreamer's rtspsrc may print while it pauses on the EOS our SIGINT (gst-launch -e) starts:
 * its PAUSE finding the connection gone ("Received end-of-file"), seen on loaded machines and not
 * reproduced alone. It is about that shutdown, not the stream: the tests check the recording
 * itself, where a connection lost earlier shows.
 */
const GST_SHUTDOWN_NOISE = /^ERROR: from element [^\n]*GstRTSPSrc:[^\n]*: Could not (write to|read from) resource\.\nAdditional debug info:\n[^\n]*\n[^\n]*\n?[^\n]*Received end-of-file\)\n?/gm;

/** A gst-launch player's stderr without that shutdown noise. */
export function gstStderr(stderr: string): string {
  return stderr.replace(GST_SHUTDOWN_NOISE, '');
}

/** A player's exit after our stop: 0 or a signal, or gst-launch's 1 when all it said was that noise. */
export function stoppedCleanly(code: number | null, stderr: string): boolean {
  return code === 0 || code === null || (code === 1 && !/error|invalid/i.test(gstStderr(stderr)));
}
