/**
 * Two per-packet costs of werift (0.24)'s `RTCRtpReceiver.handleRTP`, removed without changing
 * what it does; installed once per process.
 *
 * Why: for every received RTP packet, when TWCC is not negotiated (we do not offer it for audio),
 * handleRTP asks `this.twccEnabled`, a getter that builds `codecArray` (Object.values of the codecs,
 * sorted by payload type: an array and a sort per packet) and `useTWCC()` (a new object per packet)
 * just to read the first codec's feedback list; and it calls the `async runRtcp()`, which returns at
 * once while the RTCP loop already runs, but as an async function allocates a promise per packet.
 *
 * What: `twccEnabled` reads the codec with the lowest payload type directly (integer keys of a plain
 * object iterate in ascending order, the order the sort gives); `runRtcp` returns a resolved
 * promise without entering werift's async function while the loop runs or the receiver is stopped
 * (exactly the case in which werift's returns at once). The install checks both against werift's
 * own on sample receivers and keeps werift's code if they differ; `test/whep/werift-receiver.test.ts`
 * compares them too.
 */
import { RTCRtpReceiver, useTWCC } from 'werift';

type Receiver = { codecs: Record<number, { rtcpFeedback: Array<{ type: string }> }>; rtcpRunning: boolean; stopped: boolean; runRtcp(): Promise<void> };
const proto = RTCRtpReceiver.prototype as unknown as Receiver;
const original = {
  twccEnabled: Object.getOwnPropertyDescriptor(RTCRtpReceiver.prototype, 'twccEnabled')!,
  runRtcp: proto.runRtcp,
};
/** werift's own implementations (for the equivalence test). */
export const weriftReceiverOriginal = original;

const TWCC = useTWCC().type;
const done = Promise.resolve();

function fastTwccEnabled(this: Receiver): { type: string } | undefined {
  for (const pt in this.codecs) return this.codecs[pt].rtcpFeedback.find((f) => f.type === TWCC);
  return undefined;
}

function fastRunRtcp(this: Receiver): Promise<void> {
  if (this.rtcpRunning || this.stopped) return done;
  return original.runRtcp.call(this);
}

/** Same answer as werift's getter on receivers with these codec sets (the install's self-check). */
function sameTwcc(): boolean {
  const fb = (twcc: boolean) => (twcc ? [{ type: 'nack' }, { type: TWCC }] : [{ type: 'nack' }]);
  const cases: Array<Array<[number, boolean]>> = [[], [[111, false]], [[111, true]], [[111, false], [96, true]], [[96, false], [111, true], [0, true]], [[127, true], [8, false]]];
  for (const c of cases) {
    const r = Object.create(RTCRtpReceiver.prototype) as Receiver;
    r.codecs = {};
    for (const [pt, twcc] of c) r.codecs[pt] = { payloadType: pt, rtcpFeedback: fb(twcc) } as never;
    if (original.twccEnabled.get!.call(r) !== fastTwccEnabled.call(r)) return false;
  }
  return true;
}

/** Installs both (idempotent); false (nothing changed) if this werift's receiver is not the one they mirror. */
export function installFastReceiver(): boolean {
  if (typeof original.twccEnabled?.get !== 'function' || typeof original.runRtcp !== 'function' || !sameTwcc()) return false;
  Object.defineProperty(RTCRtpReceiver.prototype, 'twccEnabled', { ...original.twccEnabled, get: fastTwccEnabled });
  proto.runRtcp = fastRunRtcp;
  return true;
}

/** Puts werift's own code back (the benchmark's `--without receiver`). */
export function uninstallFastReceiver(): void {
  Object.defineProperty(RTCRtpReceiver.prototype, 'twccEnabled', original.twccEnabled);
  proto.runRtcp = original.runRtcp;
}
