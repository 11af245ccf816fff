/** A whole buffer through the streaming resampler in one call (process + flush). */
import type { PcmFormat } from '../pcm/contract';
import { Resampler, type OutChannels } from './resampler';

export function resampleAll(pcm: Buffer, from: PcmFormat, to: { rate: number; channels?: OutChannels }): Buffer {
  if (from.rate === to.rate && (to.channels === undefined || to.channels === 'same' || to.channels === from.channels)) return pcm;
  const r = new Resampler({ inRate: from.rate, inChannels: from.channels, outRate: to.rate, outChannels: to.channels ?? 'same' });
  return Buffer.concat([r.process(pcm), r.flush()]);
}
