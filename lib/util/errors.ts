/**
 * Errors the engine reports to users carry a stable `code` and the `params` of their message, so
 * the Node-RED glue can show them in the editor's language (locales/<lang>/common.json under
 * "errors.<code>", with the params interpolated) while plain-Node users read the English message.
 */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly params: Record<string, string | number> = {},
  ) {
    super(message);
  }
}
