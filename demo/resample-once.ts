/** Resamples a whole buffer in one go with the package's own streaming resampler. */
import type { PcmFormat } from '../lib/pcm/contract';
import { Resampler } from '../lib/resample';

export function resampleOnce(pcm: Buffer, from: PcmFormat, to: PcmFormat): Buffer {
  if (from.rate === to.rate && from.channels === to.channels) return pcm;
  const r = new Resampler({ inRate: from.rate, inChannels: from.channels, outRate: to.rate, outChannels: to.channels as 1 | 2 });
  return Buffer.concat([r.process(pcm), r.flush()]);
}
