/**
 * Applies checked awareness entries to the doc's `Awareness` and encodes its states back out,
 * parsing and stringifying each state once instead of three times.
 *
 * Through y-protocols alone, every incoming state was parsed twice (the server's checks, then
 * `applyAwarenessUpdate`, after the kept entries were re-encoded for it) and stringified again
 * for every broadcast (`encodeAwarenessUpdate`). In a room of 10 at 10 Hz that was a third of
 * the server's JavaScript per awareness message (bench presence, warm `--cpu-prof`). Here the
 * states parsed by the checks are applied as they are, and the text each state arrived as is
 * sent on as it is: the exact bytes the client sent, judged by the presence caps.
 *
 * `apply` follows `applyAwarenessUpdate` of y-protocols 1.0 rule for rule (which entries win,
 * the clock bump that keeps a local state, `meta`, the `change` and `update` events), so every
 * listener of the doc's `Awareness` sees what it saw before.
 */
import type { Awareness } from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import { equalityDeep } from 'lib0/function'
import type { AwarenessEntry } from '../../shared/awareness.js'

export class AwarenessStates {
  /** Client id → its current state and the JSON text it arrived as. */
  private readonly texts = new Map<number, { state: unknown, json: string }>()

  constructor (private readonly awareness: Awareness) {}

  /** Applies `entries` with their parsed `states` (same order), as y-protocols would. */
  apply (entries: readonly AwarenessEntry[], states: readonly unknown[], origin: unknown): void {
    const awareness = this.awareness
    const timestamp = Date.now()
    const added: number[] = []
    const updated: number[] = []
    const filteredUpdated: number[] = []
    const removed: number[] = []
    for (let i = 0; i < entries.length; i++) {
      const { clientID, json } = entries[i]!
      let clock = entries[i]!.clock
      const state = states[i] as { [key: string]: unknown } | null
      const clientMeta = awareness.meta.get(clientID)
      const prevState = awareness.states.get(clientID)
      const currClock = clientMeta === undefined ? 0 : clientMeta.clock
      if (!(currClock < clock || (currClock === clock && state === null && awareness.states.has(clientID)))) continue
      if (state === null) {
        // A remote client never removes the local state (the server has none; y-protocols' rule).
        if (clientID === awareness.clientID && awareness.getLocalState() != null) {
          clock++
        } else {
          awareness.states.delete(clientID)
          this.texts.delete(clientID)
        }
      } else {
        awareness.states.set(clientID, state)
        this.texts.set(clientID, { state, json })
      }
      awareness.meta.set(clientID, { clock, lastUpdated: timestamp })
      if (clientMeta === undefined && state !== null) {
        added.push(clientID)
      } else if (clientMeta !== undefined && state === null) {
        removed.push(clientID)
      } else if (state !== null) {
        if (!equalityDeep(state, prevState)) filteredUpdated.push(clientID)
        updated.push(clientID)
      }
    }
    if (added.length > 0 || filteredUpdated.length > 0 || removed.length > 0) {
      awareness.emit('change', [{ added, updated: filteredUpdated, removed }, origin])
    }
    if (added.length > 0 || updated.length > 0 || removed.length > 0) {
      awareness.emit('update', [{ added, updated, removed }, origin])
    }
  }

  /** The state of `id` went (any way: removal, timeout, its peer leaving). */
  forget (id: number): void {
    this.texts.delete(id)
  }

  /**
   * The awareness update for `ids` (each must be in `meta`), as `encodeAwarenessUpdate` makes
   * it, with each state's text as it arrived when the state is still that one.
   */
  encode (ids: readonly number[]): Uint8Array {
    const { meta, states } = this.awareness
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, ids.length)
    for (const id of ids) {
      const state = states.get(id)
      const text = this.texts.get(id)
      encoding.writeVarUint(encoder, id)
      encoding.writeVarUint(encoder, meta.get(id)!.clock)
      encoding.writeVarString(encoder, state === undefined ? 'null' : text !== undefined && text.state === state ? text.json : JSON.stringify(state))
    }
    return encoding.toUint8Array(encoder)
  }

  clear (): void {
    this.texts.clear()
  }
}
