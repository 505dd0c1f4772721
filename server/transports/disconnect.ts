/**
 * Ending sessions on demand (`weft.disconnect()`, `POST /admin/disconnect`): every session and
 * stream that matches, on every transport of this node. WebSockets are closed with 4401 ("authenticate
 * again": after a permission change the next upgrade is refused or granted anew), HTTP editor
 * sessions end, SSE streams end.
 */
import { CloseCode } from '../../shared/close-codes.js'
import type { DocRegistry } from '../docs/registry.js'
import { WeftError } from '../errors.js'
import { Session } from '../session.js'
import { SseObserver } from './sse.js'

export interface Which { doc?: string, user?: string }

/** Ends what matches `which` (a doc, a user, or a user on a doc); returns how many. */
export function disconnect (registry: DocRegistry, which: Which): number {
  if (which.doc === undefined && which.user === undefined) throw new WeftError('malformed', 'disconnect needs a doc, a user or both')
  let ended = 0
  for (const doc of registry.docs()) {
    if (which.doc !== undefined && doc.name !== which.doc) continue
    for (const peer of [...doc.peers]) {
      // Only peers that stand for a client: sessions and streams (not poll hubs, handles, relays).
      if (!(peer instanceof Session) && !(peer instanceof SseObserver)) continue
      if (which.user !== undefined && peer.user !== which.user) continue
      peer.close(CloseCode.unauthorized, 'disconnected by the server')
      ended++
    }
  }
  return ended
}
