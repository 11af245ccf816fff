/**
 * A werift whose internals changed must cost speed, never whep-in (issue: a renamed internal made
 * lib/whep throw at require time, and whep-in did not register). Each case renames identifiers the
 * fast paths rely on, consistently through a copy of werift (see changed-werift.ts), and runs
 * whep-in on it in a Node-RED runtime in a child process, against the werift source in a process
 * of its own (unchanged werift): whep-in registers, audio arrives through werift's own code, and
 * each fallen-back fast path is warned about with its reason, once.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnPeer } from '../../support/processes';
import { startSourceProcess } from '../support';
import { changedWerift } from './changed-werift';

interface ChildOutput {
  registered: boolean;
  requireError?: string;
  weriftFile: string;
  waitError?: string;
  pcm?: number;
  report?: { weriftVersion: string; active: string[]; fallbacks: Array<{ fastPath: string; reason: string }> };
  logs?: string[];
  warns?: string[];
}

async function runWhepIn(renames: Record<string, string>, url: string): Promise<ChildOutput> {
  const copy = changedWerift(renames);
  try {
    for (const [from, n] of Object.entries(copy.replaced)) assert.ok(n > 0, `werift has no "${from}" to rename any more: pick another internal`);
    const child = spawnPeer(process.execPath, [path.join(__dirname, 'changed-werift-child.js'), copy.dir, url], 90_000);
    const code = await child.exited;
    const line = child.stdout().split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, `the child printed no result (exit ${code}): ${child.stderr()}`);
    const out = JSON.parse(line) as ChildOutput;
    assert.ok(out.weriftFile.startsWith(copy.dir), `whep-in loaded the changed werift (${out.weriftFile})`);
    return out;
  } finally {
    copy.remove();
  }
}

/** what a user sees: whep-in registered, audio, one warning per fallback naming it and why */
function assertDegradedNotBroken(out: ChildOutput, fallen: string[], loggedActive: string[]): void {
  assert.equal(out.requireError, undefined, `lib/whep threw at require time:\n${out.requireError}`);
  assert.ok(out.registered, 'whep-in registered in Node-RED');
  assert.equal(out.waitError, undefined, `${out.waitError} (${out.pcm} PCM messages)`);
  assert.ok(out.pcm! >= 50, `${out.pcm} PCM messages`);
  const report = out.report!;
  assert.deepEqual(report.fallbacks.map((f) => f.fastPath).sort(), [...fallen].sort(), JSON.stringify(report));
  for (const f of report.fallbacks) {
    const warned = out.warns!.filter((w) => w.includes(`fast path "${f.fastPath}" is off`));
    assert.equal(warned.length, 1, `one warning for ${f.fastPath}: ${out.warns!.join(' | ')}`);
    assert.ok(warned[0].includes(f.reason), `the warning says why: ${warned[0]}`);
    assert.ok(warned[0].includes(`werift ${report.weriftVersion}`), warned[0]);
  }
  assert.equal(out.warns!.filter((w) => w.includes('fast path')).length, fallen.length, out.warns!.join(' | '));
  // logged once, when the first node starts: a fast path that falls back later is in it, and warned after
  const active = out.logs!.filter((l) => l.includes('fast receive paths active'));
  assert.deepEqual(active, loggedActive.length ? [`werift ${report.weriftVersion}: fast receive paths active: ${loggedActive.join(', ')}`] : []);
}

describe('whep-in on a werift with changed internals', () => {
  let src: Awaited<ReturnType<typeof startSourceProcess>>;
  before(async () => {
    src = await startSourceProcess(['--loop']);
  });
  after(async () => {
    await src?.kill();
  });

  test("SRTP sessions' remoteContext renamed: whep-in still registers and streams; srtp (at install) and udp (at the first connection) fall back, each warned", async (t) => {
    const out = await runWhepIn({ remoteContext: 'remoteCryptoContext' }, src.url);
    for (const w of out.warns ?? []) t.diagnostic(w);
    assertDegradedNotBroken(out, ['srtp', 'udp'], ['rtp', 'events', 'route', 'udp', 'rr']);
    assert.match(out.report!.fallbacks.find((f) => f.fastPath === 'srtp')!.reason, /remoteContext/);
    assert.deepEqual(out.report!.active, ['rtp', 'events', 'route', 'rr']);
  });

  test('an internal of every fast path renamed: every one falls back, werift alone carries the audio', async (t) => {
    const out = await runWhepIn({ remoteContext: 'remoteCryptoContext', csrcLength: 'csrcCount', promiseStack: 'asyncStack', routeRtp: 'dispatchRtp', sendRtcp: 'transmitRtcp' }, src.url);
    for (const w of out.warns ?? []) t.diagnostic(w);
    assertDegradedNotBroken(out, ['rtp', 'srtp', 'events', 'route', 'udp', 'rr'], []);
    assert.deepEqual(out.report!.active, []);
  });
});
