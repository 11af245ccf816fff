/**
 * Glue helpers shared by the nodes: engine errors (CodedError) shown in the editor's language.
 * Every node's catalog gets the shared texts of locales/<lang>/common.json merged in at build time
 * (scripts/copy-assets.js), so `errors.<code>` resolves in any node.
 */
import { CodedError } from '../../lib/util/errors';

// the shape of Node-RED's RED._ (I18nTFunction), so a node passes RED itself
type Translate = (key: string, params?: Record<string, string | number>) => string;

/** The error to hand to done(): translated when the engine gave it a code, else unchanged. */
export function localError(RED: { _: Translate }, err: unknown): Error {
  if (err instanceof CodedError) {
    const key = `errors.${err.code}`;
    const text = RED._(key, err.params);
    if (text && text !== key) {
      const e = new Error(text);
      (e as Error & { code?: string }).code = err.code;
      return e;
    }
    return err;
  }
  return err instanceof Error ? err : new Error(String(err));
}
