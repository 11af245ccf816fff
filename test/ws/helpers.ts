/** Shared helpers of the ws tests: deterministic PCM per stream, a self-signed certificate. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FMT16K = { rate: 16000, channels: 1, bits: 16, encoding: 'signed-integer', endianness: 'little' } as const;

/**
 * 16 kHz mono PCM whose samples encode the stream number and the sample index, so any mix-up
 * shows. The (s >> 13) term keeps it from repeating: without it, 7·s mod 65536 repeats every 512
 * chunks of 3200 samples, and a test that maps received chunks back to their index took chunk 999
 * for chunk 487.
 */
export function pcmFor(stream: number, startSample: number, samples: number): Buffer {
  const b = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    const s = startSample + i;
    b.writeInt16LE(((s * 7 + (s >> 13) * 31 + stream * 4099) % 65536) - 32768, i * 2);
  }
  return b;
}

/** Splits a stream's audio into messages of irregular sizes (whole samples), as real sources do. */
export function messagesFor(stream: number, totalSamples: number, sizes = [160, 320, 480, 97, 640, 1]): Buffer[] {
  const out: Buffer[] = [];
  let n = 0;
  let i = stream;
  while (n < totalSamples) {
    const k = Math.min(sizes[i++ % sizes.length], totalSamples - n);
    out.push(pcmFor(stream, n, k));
    n += k;
  }
  return out;
}

/** A self-signed certificate for 127.0.0.1 made with the openssl CLI, in a temp dir removed at once. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ws-cert-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore', timeout: 30_000 },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export { sleep } from '../support/processes';
