/**
 * The logger shape the Currents workers write to: pino's (Fastify's `app.log`), reduced to what
 * they use. Workers log connector ids, states and error text — never payloads or credentials.
 */
export interface CurrentsLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLog: CurrentsLog = { info() {}, warn() {}, error() {} };
