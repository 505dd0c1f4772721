/**
 * The server's side of errors as data (shared/errors.ts has the rulebook): how any error thrown
 * on a doc route or a socket becomes the one HTTP status or close code it stands for.
 */
import { Refusal, WeftError, refusalForStatus, type RefusalName } from '../shared/errors.js'

export { WeftError, Refusal, type RefusalName }

/** A bad `createWeft()` option: thrown at start, before anything listens. */
export class WeftOptionsError extends Error {
  override name = 'WeftOptionsError'
}

/** A refusal named by its HTTP status (for the few that have no better name at the throw site). */
export function httpError (status: number, message: string): WeftError {
  return new WeftError(refusalForStatus(status) ?? 'internal', message)
}

/**
 * The refusal an error stands for: its own when it is a WeftError; a status carried by a
 * library's error (Express' body parsers: 400, 413, 415) read through the table; `internal`
 * for anything else (a bug: the caller logs it at error).
 */
export function refusalOf (err: unknown): RefusalName {
  if (err instanceof WeftError) return err.refusal
  const status = (err as { status?: unknown } | null)?.status
  if (typeof status === 'number') return refusalForStatus(status) ?? 'internal'
  return 'internal'
}

export function statusOf (err: unknown): number {
  if (err instanceof WeftError) return err.status
  const status = (err as { status?: unknown } | null)?.status
  // A library's 4xx/5xx that the table does not name keeps its own status.
  if (typeof status === 'number' && status >= 400 && status < 600) return status
  return 500
}
