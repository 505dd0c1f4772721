/** The long-poll answer (`GET /docs/:doc/poll`, status 200), as server and client share it. */
export interface PollBody {
  /** Resume cursor: pass it to the next poll (or to the SSE stream as `?cursor=`). */
  cursor: string
  /** Awareness cursor: pass it to the next poll as `?aw=`. */
  aw: string
  /** Records after the cursor merged into one Yjs update (or, on reset, the state the client lacks); base64. */
  update?: string
  /** An awareness update (y-protocols encoding) with every change after `aw`; base64. */
  awareness?: string
  /** Set when the cursor was missing, garbage or outside the retained window. */
  reset?: true
  /** On reset: the server's state vector (base64), so the client can send what the server lacks. */
  stateVector?: string
}
