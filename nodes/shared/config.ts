/**
 * Node configuration, read and refused the same way in every node.
 *
 * - `configNumber` reads one number of a node's config. Blank or missing means the default (flows
 *   saved before the property existed); anything else that is not a number in range is refused
 *   with a CodedError naming the property and the allowed range, never silently replaced.
 * - `refuseConfig` shows a configuration the node cannot run: any error (configNumber's, or an
 *   engine's CodedError such as rtsp.badConfig) is logged once, the status is a red ring saying
 *   "bad configuration", and every message is answered with done(err) so Catch nodes see it.
 */
import type { Node, NodeAPI } from 'node-red';
import { CodedError } from '../../lib/util/errors';
import { localError } from './i18n';

export interface NumberRule {
  /** what blank or missing means */
  default: number;
  min: number;
  max: number;
  /** whole numbers only */
  integer?: boolean;
}

/**
 * The number `config[key]`, checked against `rule`. Numbers and numeric strings (the editor saves
 * either) are taken; `${ENV}` is already substituted by Node-RED before the node sees it.
 * Throws CodedError `config.badNumber` / `config.badInteger` (params: property, value, min, max).
 */
export function configNumber(config: object, key: string, rule: NumberRule): number {
  const v = (config as Record<string, unknown>)[key];
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) return rule.default;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
  const ok = Number.isFinite(n) && n >= rule.min && n <= rule.max && (!rule.integer || Number.isInteger(n));
  if (ok) return n;
  const code = rule.integer ? 'config.badInteger' : 'config.badNumber';
  const kind = rule.integer ? 'a whole number' : 'a number';
  const value = typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v);
  throw new CodedError(code, `${key} is "${value}": expected ${kind} from ${rule.min} to ${rule.max}`, { property: key, value, min: rule.min, max: rule.max });
}

/**
 * Shows a configuration the node cannot run, and makes the node refuse every message with it.
 * Call it instead of registering the node's own input handler (return right after). `err` may be
 * any error: a CodedError is translated (errors.<code> of the node's catalog, common.json merged).
 * `status` replaces the "bad configuration" text where a more precise one helps (e.g. "no target").
 * Returns the error handed to done(), translated.
 */
export function refuseConfig(node: Node, RED: Pick<NodeAPI, '_'>, err: unknown, status?: string): Error {
  const e = localError(RED as { _: (key: string, params?: Record<string, string | number>) => string }, err);
  node.error(e);
  node.status({ fill: 'red', shape: 'ring', text: status ?? RED._('shared.badConfig') });
  node.on('input', (_msg: unknown, _send: unknown, done: (err?: Error) => void) => done(e));
  return e;
}
