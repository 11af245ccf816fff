import { startWhepSource } from '../peers/whep-source';
import { WhepIn } from '../../lib/whep';
(async () => {
  const src = await startWhepSource({ text: 'hello world, this is a test' });
  console.log('source', src.url, src.durationMs);
  let bytes = 0; let n = 0;
  const w = new WhepIn({ iceHostAddresses: ['127.0.0.1'], rate: 16000, channels: 1 }, {
    chunk: (m) => { bytes += m.payload.length; n++; if (m.complete) console.log('complete', m.seq); },
    event: (e) => console.log('event', e.event, e.reason ?? '', e.stats.packetsReceived),
  });
  w.start({ url: src.url, stmId: 'a' });
  await new Promise((r) => setTimeout(r, 4000));
  console.log('chunks', n, 'ms', bytes / 32);
  await w.close();
  console.log('deletes', src.deletes);
  await src.stop();
  console.log('handles', (process as any)._getActiveHandles().map((h: any) => h.constructor.name));
})();
