/**
 * When the board's pictures go out, and what drawing one costs the main thread:
 * - a change that starts with the same audio packet as a re-send of the old picture goes out at
 *   least 20 ms (RTP time) after it (recorders that keep time in ms dropped it as a duplicate);
 * - a change is sent again with the next audio packet, 20 ms later (ffmpeg's MJPEG parser hands a
 *   frame on only when the next one starts: the new board showed a whole period late);
 * - the built-in board is drawn (resvg + JPEG) on a thread of its own: while boards change, the
 *   main thread (the pacer's) is not held up for the tens of ms a drawing takes;
 * - an announcement with a board starts once the board is drawn, so both leave together.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VideoTrack } from '../../lib/rtsp/video-track';
import { parseRtp, rtpOf } from '../../lib/rtsp/rtp';
import { encodeJpeg } from '../../lib/video/jpeg';
import { QueueBoard } from '../../lib/video/queue-board';
import { BoardRenderer } from '../../lib/video/board';
import { median } from '../../bench/support/stats';
import { missingPeer } from '../support/peers';
import { CJK_FONT, longestLoopGap } from './support';
import { createStation, type AnnouncementEvent } from '../../lib/announce';
import { freePort, sleep, until } from '../support/processes';

function picture(value: number): Buffer {
  return encodeJpeg(new Uint8Array(320 * 240 * 4).fill(value), 320, 240).jpeg;
}

/** Frames sent (RTP time of each picture's last packet), from the packets the track hands out. */
function track(): { t: VideoTrack; frames: number[] } {
  const frames: number[] = [];
  const t = new VideoTrack(2, 320, 240, (packets) => {
    for (const p of packets) {
      const r = parseRtp(rtpOf(p));
      if (r.marker) frames.push(r.timestamp);
    }
  }, 'cname');
  return { t, frames };
}

test('a board change in the same audio packet as a re-send goes out 20 ms after it, and again 20 ms later', () => {
  const { t, frames } = track();
  t.show(picture(50), 0);
  t.tick(20); // the double send of the first picture
  t.tick(40);
  t.tick(520); // a re-send, due at 520 ms
  assert.deepEqual(frames, [0, 1800, 46800]);
  // the next announcement starts with the packet at 520 ms: its board is shown for that instant
  t.show(picture(200), 520);
  assert.equal(frames[3] - frames[2], 1800, 'the change 20 ms (1800 ticks at 90 kHz) after the re-send, not at the same ms');
  t.tick(540);
  assert.equal(frames.length, 5, 'the new picture again with the next audio packet');
  assert.equal(frames[4] - frames[3], 1800);
  t.tick(560);
  t.tick(1000);
  assert.equal(frames.length, 5, 'then only every period');
  t.tick(1060);
  assert.equal(frames.length, 6);
});

test('the built-in board is drawn off the main thread: board changes never run the renderer on it', { skip: missingPeer('fonts-noto-cjk') }, async (t) => {
  // the renderer and encoder as this (main) thread has them: a drawing thread loads its own copies
  const renders = { n: 0 };
  const proto = BoardRenderer.prototype as unknown as { render: (...a: unknown[]) => unknown };
  const render = proto.render;
  proto.render = function (this: unknown, ...a: unknown[]) {
    renders.n++;
    return render.apply(this, a);
  };
  t.after(() => {
    proto.render = render;
  });
  let mediaMs = 0;
  const shown: Buffer[] = [];
  const board = new QueueBoard({ get mediaMs() { return mediaMs; }, get lastFrameMs() { return mediaMs; }, showVideo: (j) => void shown.push(j), expectVideo: () => {}, cancelVideo: () => {} }, { width: 1280, height: 720, fontFile: CJK_FONT });
  try {
    await board.start();
    const gaps: number[] = [];
    for (let i = 0; i < 5; i++) {
      mediaMs += 1000;
      gaps.push(await longestLoopGap(async () => board.showNow(await board.prepare({ call: { number: `A0${10 + i}`, counter: '3' } }))));
    }
    assert.equal(shown.length, 6, 'the empty board and five calls');
    assert.equal(renders.n, 0, 'no board was drawn on the main thread');
    // how long the loop was held up is machine-dependent (a loaded CI runner): shown, not asserted
    t.diagnostic(`longest event-loop gap per board change: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms (median ${median(gaps).toFixed(0)})`);
  } finally {
    board.close();
  }
});

test('an announcement with a call starts once its board is drawn: the new board goes out with its first audio frame, not after it', { skip: missingPeer('fonts-noto-cjk') }, async () => {
  const port = await freePort();
  const st = createStation({ mode: 'serve', host: '127.0.0.1', port, path: 'board', codec: 'opus', chime: 'none', video: 'mjpeg', fps: 2, videoWidth: 1280, videoHeight: 720, fontFile: CJK_FONT });
  try {
    await st.start();
    const board = st.board!;
    // PCM to play: ready in a few ms, long before the board (resvg + JPEG, tens of ms) is drawn
    const beep = { pcm: Buffer.alloc(48000 * 2 * 0.3, 1), rate: 48000, channels: 1 };
    for (const number of ['A012', 'A013']) {
      let atStart: { number?: string; changes: number; lastFrameMs: number } | undefined;
      const before = board.changes;
      const shown: Array<{ atMs: number; number?: string }> = [];
      const onChange = (c: { atMs: number; number?: string }) => void shown.push(c);
      board.on('change', onChange);
      const { id } = st.announce({ audio: beep, chime: false }, { call: { number, counter: '3' } });
      st.on('event', function onEvent(e: AnnouncementEvent) {
        if (e.id !== id || e.event !== 'started') return;
        st.off('event', onEvent);
        // the stream's own listener ran first: the board of this announcement is out by now
        atStart = { number: board.state.current?.number, changes: board.changes, lastFrameMs: (st.output as unknown as { lastFrameMs: number }).lastFrameMs };
      });
      await until(() => atStart !== undefined, 10_000, `${number} started`);
      board.off('change', onChange);
      assert.equal(atStart!.number, number);
      assert.equal(atStart!.changes, before + 1, `the ${number} board went out when its audio started (not drawn after the start)`);
      assert.deepEqual(shown.map((c) => c.number), [number]);
      assert.equal(shown[0].atMs, atStart!.lastFrameMs, 'shown from its first audio frame');
      await sleep(500);
    }
  } finally {
    await st.close();
  }
});
