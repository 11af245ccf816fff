/**
 * The A/B switches of the benchmarks (bench/whep, bench/whep-srtp): each fast path of the werift
 * layer turned off (werift's own code runs) or on again, also on connections already set up.
 * Only bench/ and the werift tests import this; lib/whep/index.ts does not export it, so it is no
 * part of the engine's API.
 */
import { install, type FastPath } from './index';
import { setLeanEvents } from './event';
import { setReceiverReportPacing } from './rtcp';
import { setShortRtpRoute, setUdpRtpRoute } from './route';
import { installFastRtpParsing, uninstallFastRtpParsing } from './rtp';
import { installFastSrtp, uninstallFastSrtp } from './srtp';

/**
 * Turns one fast path on or off. A fast path that fell back stays werift's own code: turning it
 * on does nothing, turning it off throws (an A/B of it would compare werift with itself).
 */
export function setFastPath(fastPath: FastPath, on: boolean): void {
  const report = install();
  const fallback = report.fallbacks.find((f) => f.fastPath === fastPath);
  if (fallback && on) return;
  if (fallback) throw new Error(`the werift fast path "${fastPath}" is not active (${fallback.reason}): nothing to compare`);
  switch (fastPath) {
    case 'rtp':
      return on ? installFastRtpParsing() : uninstallFastRtpParsing();
    case 'srtp':
      return on ? installFastSrtp() : uninstallFastSrtp();
    case 'events':
      return setLeanEvents(on);
    case 'route':
      return setShortRtpRoute(on);
    case 'udp':
      return setUdpRtpRoute(on);
    case 'rr':
      return setReceiverReportPacing(on);
  }
}
