/** tts-rtsp-out: text (or PCM/WAV) in -> spoken into a continuous RTSP stream; events out. */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { createEngine, createStation, requestFromMessage } from '../../lib/announce';
import type { AnnouncementEvent, EngineKind, StationConfig, Voice } from '../../lib/announce';
import { localError } from '../shared/i18n';
import { configNumber, refuseConfig, type NumberRule } from '../shared/config';
import { resolveUserPath } from '../../lib/util/executable';
import { CodedError } from '../../lib/util/errors';

interface Config extends NodeDef, Omit<StationConfig, 'port' | 'speed' | 'pitch' | 'volume' | 'repeat' | 'gapMs' | 'maxQueue' | 'maxChars' | 'idleFrames' | 'maxPlayers' | 'fps' | 'fontFile' | 'template' | 'videoWidth' | 'videoHeight'> {
  port: string; speed: string; pitch: string; volume: string; repeat: string; gap: string; maxQueue: string; maxChars: string;
  /** serve: most players at once (flows from before it: 100) */
  maxPlayers?: string;
  /** ms of Opus silence per packet between announcements: 120, 60 or 20 */
  silence?: string;
  /** the system espeak-ng program (engine "espeak"); empty: found on PATH or where installed */
  espeakPath?: string;
  /** the queue board (video track): "1280x720", fps, template texts, font file (relative to userDir) */
  resolution?: string;
  fps?: string;
  boardTitle?: string;
  counterLabel?: string;
  historyLabel?: string;
  historyCount?: string;
  fontFile?: string;
}

/** "1280x720" → [1280, 720] (the engine checks the numbers). */
function parseResolution(v: string | undefined): [number, number] {
  const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(v || '1280x720');
  if (!m) throw new CodedError('video.badResolution', `resolution "${v}" is not valid: write it as width x height, e.g. 1280x720`, { value: String(v) });
  return [Number(m[1]), Number(m[2])];
}
type Creds = { username: unknown; password: unknown };

export = function (RED: NodeAPI) {
  const err = (e: unknown) => localError({ _: (k, p) => RED._(k, p as Record<string, string>) }, e);
  const voiceCache = new Map<string, Promise<Voice[]>>();
  // the edit dialog's voice list (needs the node's read permission, like the editor's own APIs)
  RED.httpAdmin.get('/live-audio/voices', RED.auth.needsPermission('tts-rtsp-out.read'), (req, res) => {
    const kind = (req.query.engine === 'espeak' ? 'espeak' : 'embedded') as EngineKind;
    if (!voiceCache.has(kind)) {
      const engine = createEngine({ kind });
      const list = engine.voices().finally(() => engine.close());
      list.catch(() => voiceCache.delete(kind));
      voiceCache.set(kind, list);
    }
    voiceCache.get(kind)!.then((v) => res.json(v), (e: Error) => res.status(503).json({ error: err(e).message }));
  });

  function TtsRtspOut(this: Node<Creds>, config: Config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (k: string, p?: Record<string, unknown>) => RED._(`tts-rtsp-out.status.${k}`, p as Record<string, string>);
    let station: ReturnType<typeof createStation>;
    try {
      const video = config.video && config.video !== 'off' ? config.video : undefined;
      const [videoWidth, videoHeight] = video ? parseResolution(config.resolution) : [undefined, undefined];
      const font = config.fontFile?.trim();
      const num = (key: string, rule: NumberRule) => configNumber(config, key, rule);
      station = createStation({
        ...config, username: (node.credentials?.username as string) || undefined, password: node.credentials?.password as string,
        port: num('port', { default: 8554, min: 0, max: 65535, integer: true }),
        speed: num('speed', { default: 1, min: 0.3, max: 3 }),
        pitch: num('pitch', { default: 50, min: 0, max: 100 }),
        volume: num('volume', { default: 100, min: 0, max: 200 }),
        repeat: num('repeat', { default: 1, min: 1, max: 10, integer: true }),
        gapMs: num('gap', { default: 800, min: 0, max: 10000 }),
        maxQueue: num('maxQueue', { default: 20, min: 1, max: 1000, integer: true }),
        maxChars: num('maxChars', { default: 500, min: 1, max: 10000, integer: true }),
        // 120, 60 or 20 ms: the engine refuses any other length with its reason
        idleFrames: num('silence', { default: 120, min: 20, max: 120, integer: true }) / 20,
        maxPlayers: num('maxPlayers', { default: 100, min: 1, max: 10000, integer: true }),
        // the espeak engine's program has its own field: a command template left from switching
        // engines must not be run as espeak-ng
        command: config.engine === 'espeak' ? config.espeakPath : config.command,
        // relative file and program names are taken from the user directory, not from the
        // process's working directory (C:\Windows\System32 for a Windows service)
        baseDir: RED.settings.userDir,
        video: video ?? 'off', videoWidth, videoHeight, fps: num('fps', { default: 2, min: 1, max: 10 }),
        template: {
          ...(config.boardTitle ? { title: config.boardTitle } : {}),
          ...(config.counterLabel ? { counterLabel: config.counterLabel } : {}),
          ...(config.historyLabel ? { historyLabel: config.historyLabel } : {}),
          historyCount: num('historyCount', { default: 5, min: 0, max: 8, integer: true }),
        },
        fontFile: font ? resolveUserPath(font, RED.settings.userDir) : undefined,
      });
    } catch (e) {
      // a configuration the node or the engine refuses (a bad number, push URL, chime file…)
      refuseConfig(node, RED, e);
      return;
    }
    const out = station.output as unknown as { state: string; players: number; url: string };
    let speaking: string | undefined;
    /** why the push target is away (the publisher's reason and retry delay) */
    let outage: string | undefined;
    /** the last words of an encoder (ffmpeg: AAC, H.264) that exited and is being restarted */
    let encoderDown: string | undefined;
    let encoderTimer: NodeJS.Timeout | undefined;
    const show = () => {
      const s = out.state;
      // push: while the target is away nothing is heard, and an announcement cut by the outage
      // waits to play again from its start: the status says so, not "speaking"
      if (s === 'connecting' || s === 'reconnecting') {
        const waiting = station.announcer.queued;
        const text = (outage ? t(`${s}Because`, { reason: outage }) : t(s)) + (waiting ? ` · ${t('waiting', { count: waiting })}` : '');
        return node.status({ fill: 'yellow', shape: 'ring', text });
      }
      // an encoder restarting: its reason in the status while it lasts (a stream without its
      // AAC audio or H.264 board is not "listening" as if all were well)
      if (encoderDown) return node.status({ fill: 'yellow', shape: 'ring', text: t('encoderRestarting', { reason: [...encoderDown].slice(0, 60).join('') }) });
      if (speaking && station.announcer.playing) return node.status({ fill: 'blue', shape: 'dot', text: t('speaking', { text: speaking }) });
      if (s === 'listening') node.status({ fill: 'green', shape: out.players ? 'dot' : 'ring', text: t('listening', { count: out.players }) });
      else if (s === 'publishing') node.status({ fill: 'green', shape: 'dot', text: t('publishing') });
    };
    // the output's failures (the AAC encoder's ffmpeg exiting, a push that fails): one warning per
    // kind of failure, not one per retry; said again after the output is back up
    let warned: string | undefined;
    station.output.on('error', (e: unknown) => {
      // by kind, not by text: a restart's text carries its next delay
      const kind = (e as { code?: string }).code ?? String(e);
      const params = (e as { params?: { reason?: unknown; delay?: unknown } }).params;
      if (/\.ffmpeg(Exited|Failed)$/.test(kind) && params?.reason !== undefined) {
        encoderDown = String(params.reason);
        // shown until the restart has had time to prove itself (another exit says it again)
        if (encoderTimer) clearTimeout(encoderTimer);
        encoderTimer = setTimeout(() => ((encoderDown = undefined), show()), (Number(params.delay) || 0) + 10000);
        show();
      }
      if (kind === warned) return;
      warned = kind;
      node.warn(err(e).message);
    });
    station.on('state', (s: string, detail?: string) => {
      outage = s === 'reconnecting' ? detail : undefined;
      if (s === 'listening' || s === 'publishing') warned = undefined;
      show();
    });
    station.output.on('listener', show);
    // a player dropped because sending to it kept failing: once, at the default log level
    station.output.on('warning', (w: unknown) => node.warn(err(w).message));
    // the board's drawing thread died (it is restarted with back-off): warned once, and said when it is back
    let boardDown = false;
    station.board?.on('error', (e: unknown) => {
      if (boardDown) return;
      boardDown = true;
      node.warn(err(e).message);
    });
    station.board?.on('recovered', () => {
      if (!boardDown) return;
      boardDown = false;
      node.log(RED._('tts-rtsp-out.log.boardRecovered'));
    });
    station.on('log', (l: string) => node.debug(l));
    station.on('event', (ev: AnnouncementEvent) => {
      if (ev.event === 'started') speaking = [...(ev.text || ev.id)].slice(0, 12).join('') + '…';
      if ((ev.event === 'finished' || ev.event === 'dropped') && station.announcer.playing === undefined) speaking = undefined;
      show();
      node.send({ topic: ev.event, payload: ev } as NodeMessage);
    });
    let failed: unknown; // the output could not start (port in use…): every message gets that error
    station.start().then(
      () => (node.log(RED._('tts-rtsp-out.log.started', { url: out.url })), station.warmUp().catch((e) => node.warn(err(e).message))),
      (e) => ((failed = e), node.error(err(e)), node.status({ fill: 'red', shape: 'ring', text: t('error') })),
    );

    node.on('input', (msg, _send, done) => {
      if (failed) return done(err(failed));
      try {
        const r = requestFromMessage(msg as unknown as Record<string, unknown>);
        if (r.kind === 'interrupt') return void station.interrupt().then(() => done(), (e) => done(err(e)));
        if (r.kind === 'board') return void station.showBoard(r.board).then(() => done(), (e) => done(err(e)));
        station.announce(r.req, r.board).ready.then(() => done(), (e) => done(err(e)));
      } catch (e) {
        done(err(e));
      }
    });
    node.on('close', (_removed: boolean, done: () => void) => void (encoderTimer && clearTimeout(encoderTimer), station.close()).finally(() => (node.status({}), done())));
  }

  RED.nodes.registerType('tts-rtsp-out', TtsRtspOut, { credentials: { username: { type: 'text' }, password: { type: 'password' } } });
};
