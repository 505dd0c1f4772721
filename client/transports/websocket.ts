/**
 * Tier 1: the y-websocket protocol over a WebSocket (byte-compatible with the stock provider).
 * Handshake: we send our step1 (state vector) and answer the server's step1 with what it
 * lacks; the server's step2 makes us synced.
 */
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { decodeMessage, encodeAwarenessMessage, encodeSyncStep1, encodeSyncStep2, encodeSyncUpdate } from '../../shared/protocol.js'
import { CloseCode } from '../../shared/close-codes.js'
import { ABNORMAL_CLOSURE, type Transport, type TransportContext, type TransportEvents } from './types.js'

export function websocketTransport (ctx: TransportContext, events: TransportEvents): Transport {
  const Impl = ctx.WebSocket
  let ended = false
  let opened = false
  const end = (code: number, reason: string): void => {
    if (ended) return
    ended = true
    events.close(code, reason)
  }
  if (Impl === undefined) {
    // No WebSocket on this platform (or disabled by the page): this tier fails to open.
    queueMicrotask(() => end(ABNORMAL_CLOSURE, 'WebSocket is not available'))
    return { name: 'websocket', sendUpdate () {}, sendAwareness () {}, close () { ended = true } }
  }
  const path = ctx.docName.split('/').map(encodeURIComponent).join('/')
  const query = new URLSearchParams(ctx.params).toString()
  let ws: WebSocket
  try {
    ws = new Impl(`${ctx.wsBase}/${path}${query === '' ? '' : `?${query}`}`)
  } catch (err) {
    queueMicrotask(() => end(ABNORMAL_CLOSURE, (err as Error).message))
    return { name: 'websocket', sendUpdate () {}, sendAwareness () {}, close () { ended = true } }
  }
  ws.binaryType = 'arraybuffer'
  const send = (message: Uint8Array): void => {
    if (opened && !ended && ws.readyState === 1) ws.send(message)
  }
  const sendLocalAwareness = (): void => {
    const { awareness } = ctx
    if (awareness.getLocalState() !== null || awareness.meta.has(awareness.clientID)) {
      send(encodeAwarenessMessage(awarenessProtocol.encodeAwarenessUpdate(awareness, [awareness.clientID])))
    }
  }

  // The tier counts as open on the server's first message, not on the 101: a proxy that
  // completes the upgrade and then drops frames must send us to the next tier, not leave us
  // "connected" and never synced.
  let heard = false
  ws.onopen = () => {
    if (ended) return
    opened = true
    send(encodeSyncStep1(Y.encodeStateVector(ctx.doc)))
    if (ctx.awareness.getLocalState() !== null && !ctx.probe) sendLocalAwareness()
  }
  ws.onmessage = (e: MessageEvent) => {
    if (ended) return
    if (!heard) { heard = true; events.open() }
    if (ended) return // a probe is closed as soon as it opens
    let message
    try {
      message = decodeMessage(new Uint8Array(e.data as ArrayBuffer))
    } catch {
      ws.close(CloseCode.malformed)
      return end(CloseCode.malformed, 'malformed message from server')
    }
    switch (message.type) {
      case 'sync-step1':
        send(encodeSyncStep2(Y.encodeStateAsUpdate(ctx.doc, message.stateVector)))
        break
      case 'sync-step2':
        Y.applyUpdate(ctx.doc, message.update, ctx.origin)
        events.synced()
        break
      case 'sync-update':
        Y.applyUpdate(ctx.doc, message.update, ctx.origin)
        break
      case 'awareness':
        awarenessProtocol.applyAwarenessUpdate(ctx.awareness, message.update, ctx.origin)
        break
      case 'query-awareness':
        send(encodeAwarenessMessage(awarenessProtocol.encodeAwarenessUpdate(ctx.awareness, [...ctx.awareness.getStates().keys()])))
        break
      case 'auth-denied':
        events.permissionDenied?.(message.reason)
        break
    }
  }
  ws.onerror = () => {}
  ws.onclose = (e: CloseEvent) => end(e.code || ABNORMAL_CLOSURE, e.reason ?? '')

  return {
    name: 'websocket',
    sendUpdate (update) { send(encodeSyncUpdate(update)) },
    sendAwareness: sendLocalAwareness,
    close () {
      if (ended) return
      ended = true
      ws.onopen = ws.onmessage = ws.onclose = null
      ws.onerror = () => {}
      try { ws.close(CloseCode.normal) } catch {}
    }
  }
}
