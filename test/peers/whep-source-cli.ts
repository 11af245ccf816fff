/**
 * The werift WHEP source as a process of its own (a server the tests can kill, the bench's
 * source whose CPU is not counted against whep-in, and the demo's speaker):
 *   node dist/test/peers/whep-source-cli.js [--port N] [--text "…"] [--loop]
 *   --voip: browser-like Opus (SILK/hybrid, 32 kbit/s) instead of CELT at 64 kbit/s
 *   --srtp aes-cm: DTLS-SRTP with AES_CM_128_HMAC_SHA1_80 only, as SRS (werift prefers AES-GCM)
 *   --report: then a JSON line {"posts","deletes","sessions"} whenever one of them changes
 *   (checked every 250 ms), for a test that must see every session DELETEd from outside
 *   --absent silent|404: nobody publishes at first (SRS: silent live sessions; mediamtx: 404)
 *   --control: serve GET /_control/stats and POST /_control/publish|unpublish on the same port
 * Prints one JSON line {"url","port","durationMs"} when ready; SIGTERM/SIGINT stop it.
 */
import { startWhepSource } from './whep-source';

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

startWhepSource({ port: Number(arg('port') ?? 0), text: arg('text'), voice: arg('voice'), loop: args.includes('--loop'), application: args.includes('--voip') ? 'voip' : 'audio', srtp: arg('srtp') === 'aes-cm' ? 'aes-cm' : undefined, absent: arg('absent') === 'silent' || arg('absent') === '404' ? (arg('absent') as 'silent' | '404') : undefined, control: args.includes('--control') }).then(
  (src) => {
    process.stdout.write(JSON.stringify({ url: src.url, port: src.port, durationMs: src.durationMs }) + '\n');
    if (args.includes('--report')) {
      let last = '';
      setInterval(() => {
        const line = JSON.stringify({ posts: src.posts, deletes: src.deletes.length, sessions: src.sessions.size });
        if (line !== last) process.stdout.write(line + '\n');
        last = line;
      }, 250).unref();
    }
    const stop = () => void src.stop().finally(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
