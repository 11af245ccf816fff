/**
 * The werift layer's entry point (lib/whep/werift/index.ts) on the werift this package pins:
 * every fast path active and none fallen back, werift at the version the layer mirrors, and the
 * benchmark's switches outside the engine's API. After a werift upgrade this is the first test
 * to fail (DEVELOPING.md, "Upgrading werift").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as whep from '../../../lib/whep';
import { FAST_PATHS, install, TESTED_WERIFT } from '../../../lib/whep/werift';

test('install(): every fast path active on the pinned werift, no fallback', () => {
  const report = install();
  assert.deepEqual(report.fallbacks, [], `fallbacks: ${JSON.stringify(report.fallbacks)}`);
  assert.deepEqual(report.active, [...FAST_PATHS]);
  assert.equal(report.weriftVersion, TESTED_WERIFT, 'werift is not the version the layer mirrors: see DEVELOPING.md, "Upgrading werift"');
  assert.equal(install(), report, 'installed once per process: later calls give the same report');
});

test('the benchmark switches are no part of the engine API', () => {
  const exported = Object.keys(whep);
  for (const name of ['setFastPath', 'installFastSrtp', 'uninstallFastSrtp', 'installFastRtpParsing', 'uninstallFastRtpParsing', 'setShortRtpRoute', 'setUdpRtpRoute', 'setLeanEvents', 'setReceiverReportPacing']) {
    assert.ok(!exported.includes(name), `lib/whep exports ${name}`);
  }
  assert.equal(whep.installWeriftLayer, install);
});
