/**
 * The logger seam: pino-compatible (`logger.info(obj, msg)` or `logger.info(msg)`), so an
 * embedder can pass their pino instance. The library never prints: the default is silent.
 */
export interface LogFn {
  (obj: object, msg?: string): void
  (msg: string): void
}

export interface Logger {
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  child?: (bindings: Record<string, unknown>) => Logger
}

const noop = (): void => {}
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop }
