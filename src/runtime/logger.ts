/**
 * The library's logging port: the four levels graft logs at, each taking a record of fields and a
 * short message. A pino logger satisfies it as it is (`createGraft({ …, logger: pino() })`).
 * Without one, graft logs nothing and builds no records.
 *
 * @example
 * const lines: string[] = [];
 * const logger: Logger = { error: (f, m) => lines.push(m), warn: (f, m) => lines.push(m), info: () => {}, debug: () => {} };
 */
export interface Logger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/** How graft logs: where, and whether message and reply text may appear in the records. */
export interface LogSettings {
  logger: Logger;
  /** Include customer messages and reply text in records (default false: they are left out). */
  includeText: boolean;
}
