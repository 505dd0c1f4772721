/**
 * The doc's JSON view for `content: true`: from the loaded doc when it is in memory (read, never
 * converted: docs/json-view.ts), else from storage into a Y.Doc of its own (a window closed by
 * the doc's unload, or told after a restart). Runs once per event, never per update.
 */
import * as Y from 'yjs'
import { jsonView, type JsonView } from '../docs/json-view.js'
import type { DocRegistry } from '../docs/registry.js'
import type { Storage } from '../storage/types.js'

export type ContentOf = (doc: string) => Promise<JsonView>

export function contentReader (registry: DocRegistry, storage: Storage): ContentOf {
  return async (name) => {
    const loaded = registry.get(name)
    if (loaded !== undefined) return jsonView(loaded.ydoc)
    const ydoc = new Y.Doc({ gc: true })
    try {
      const records = await storage.load(name)
      Y.transact(ydoc, () => {
        for (const r of records) {
          if (!r.intact) continue
          try { Y.applyUpdate(ydoc, r.update) } catch { /* the doc's own load quarantines it */ }
        }
      })
      return jsonView(ydoc)
    } finally {
      ydoc.destroy()
    }
  }
}
