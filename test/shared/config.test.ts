/**
 * nodes/shared/config: configNumber reads a number of a node's config (blank → default, anything
 * else not in range → CodedError naming the property and the range), and its texts exist in both
 * languages with the parameters the error carries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { configNumber } from '../../nodes/shared/config';
import { CodedError } from '../../lib/util/errors';

const rule = { default: 200, min: 1, max: 60_000, integer: true };

test('blank, missing or null is the default (flows saved before the property existed)', () => {
  for (const v of [undefined, null, '', '  ']) assert.equal(configNumber({ chunkSize: v }, 'chunkSize', rule), 200);
  assert.equal(configNumber({}, 'chunkSize', rule), 200);
});

test('numbers and numeric strings in range are taken as they are', () => {
  assert.equal(configNumber({ chunkSize: 40 }, 'chunkSize', rule), 40);
  assert.equal(configNumber({ chunkSize: ' 320 ' }, 'chunkSize', rule), 320);
  assert.equal(configNumber({ chunkSize: '1' }, 'chunkSize', rule), 1);
  assert.equal(configNumber({ chunkSize: 60000 }, 'chunkSize', rule), 60000);
  assert.equal(configNumber({ idle: '0.5' }, 'idle', { default: 60, min: 0, max: 86400 }), 0.5);
  assert.equal(configNumber({ idle: 0 }, 'idle', { default: 60, min: 0, max: 86400 }), 0, '0 is a value, not a blank');
});

test('anything else is refused with config.badNumber / config.badInteger, never replaced or clamped', () => {
  const refused = (v: unknown, r: Parameters<typeof configNumber>[2] = rule) => {
    try {
      configNumber({ chunkSize: v }, 'chunkSize', r);
    } catch (err) {
      assert.ok(err instanceof CodedError);
      return err;
    }
    assert.fail(`${String(v)} was taken`);
  };
  for (const v of ['abc', '200ms', 'NaN', 'Infinity', '0', 0, -5, 60_001, '1e9', 2.5, true, {}, [3]]) {
    const e = refused(v);
    assert.equal(e.code, 'config.badInteger', String(v));
    assert.deepEqual({ ...e.params, value: undefined }, { property: 'chunkSize', value: undefined, min: 1, max: 60_000 });
  }
  const e = refused('soon', { default: 60, min: 0, max: 86400 });
  assert.equal(e.code, 'config.badNumber');
  assert.deepEqual(e.params, { property: 'chunkSize', value: 'soon', min: 0, max: 86400 });
  assert.equal(e.message, 'chunkSize is "soon": expected a number from 0 to 86400');
});

test('the texts exist in en-US and zh-CN with the parameters the error carries', () => {
  const root = path.resolve(__dirname, '..', '..', '..');
  for (const lang of ['en-US', 'zh-CN']) {
    const common = JSON.parse(fs.readFileSync(path.join(root, 'locales', lang, 'common.json'), 'utf8'));
    for (const code of ['badNumber', 'badInteger']) {
      const text = common.errors.config[code] as string;
      assert.deepEqual([...text.matchAll(/__(\w+)__/g)].map((m) => m[1]).sort(), ['max', 'min', 'property', 'value'], `${lang} ${code}`);
    }
    assert.equal(typeof common.shared.badConfig, 'string', `${lang} status text`);
    for (const k of ['number', 'integer', 'numberProp', 'integerProp']) assert.match(common.shared[k], /__min__.*__max__/, `${lang} editor text ${k}`);
  }
});
