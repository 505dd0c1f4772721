/**
 * Errors as data: every refusal Weft makes has a name, and the name carries both answers — the
 * HTTP status a request gets and the close code a WebSocket peer would see. Server and client
 * read the same table, so a refusal means the same thing on every pipe (the client's HTTP tiers
 * turn a status back into the close code the provider acts on: `closeCodeForStatus`).
 *
 * An error is born with its name (`new WeftError('tooManyRequests', …)` or a subclass that
 * fixes it), as ws' errors carry their close code from birth: nothing downstream guesses from
 * class names or message text.
 */
import { CloseCode } from './close-codes.js'

export const Refusal = {
  /** A message, body, cursor, header or name that is not what the protocol allows. */
  malformed: { status: 400, closeCode: CloseCode.malformed },
  /** Credentials missing, invalid or expired. */
  unauthorized: { status: 401, closeCode: CloseCode.unauthorized },
  /** Credentials valid, but not for this doc, this origin or this action. */
  forbidden: { status: 403, closeCode: CloseCode.forbidden },
  /** An update rewrites structs under a client id that names other content here. */
  clientIdConflict: { status: 409, closeCode: CloseCode.clientIdConflict },
  /** Content written to a root that holds another kind (text into an XML fragment …): HTTP only. */
  kindConflict: { status: 409, closeCode: CloseCode.malformed },
  /** The doc was deleted: this content belongs to its past life (server/docs/tombstone.ts). */
  docDeleted: { status: 410, closeCode: CloseCode.docDeleted },
  /** A body or message over its size limit. */
  tooLarge: { status: 413, closeCode: CloseCode.messageTooBig },
  /** More awareness ids or presence bytes than one editor needs. */
  presenceTooLarge: { status: 413, closeCode: CloseCode.presenceTooLarge },
  /** A body of a type the route does not read. */
  unsupportedType: { status: 415, closeCode: CloseCode.malformed },
  /** A connection, doc, session, presence or rate limit: try again later. */
  tooManyRequests: { status: 429, closeCode: CloseCode.tooManyRequests },
  /** A bug, logged at error: the client may try again. */
  internal: { status: 500, closeCode: CloseCode.storageFailed },
  /** The server is shutting down: reconnect (to it after its restart, or to another node). */
  shuttingDown: { status: 503, closeCode: CloseCode.serviceRestart },
  /** Storage failed to load or store: try again later. */
  storageFailed: { status: 503, closeCode: CloseCode.storageFailed }
} as const

export type RefusalName = keyof typeof Refusal

export class WeftError extends Error {
  override name = 'WeftError'
  constructor (readonly refusal: RefusalName, message: string) { super(message) }
  get status (): number { return Refusal[this.refusal].status }
  get closeCode (): number { return Refusal[this.refusal].closeCode }
}

/** The refusal an HTTP status stands for: first in the table wins (413 is `tooLarge`, 503 `shuttingDown`). */
export function refusalForStatus (status: number): RefusalName | null {
  for (const name of Object.keys(Refusal) as RefusalName[]) if (Refusal[name].status === status) return name
  return null
}

/**
 * The close code a WebSocket would have seen for an HTTP answer with `status`, so the client
 * has one rulebook whatever its pipe. A 5xx not in the table is a failing server (4500); any
 * other status no Weft route answers (a proxy's 404 …) is `fallback`.
 */
export function closeCodeForStatus (status: number, fallback: number): number {
  const name = refusalForStatus(status)
  if (name !== null) return Refusal[name].closeCode
  return status >= 500 ? CloseCode.storageFailed : fallback
}
