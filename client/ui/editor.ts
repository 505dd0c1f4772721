/**
 * The browser entry of the editor page (`/edit/:doc`): CodeMirror 6 bound to the doc's
 * `Y.Text('text')` with y-codemirror.next (`yCollab`: sync, remote carets and names from
 * awareness, collaborative undo), plus the status bar (connection, transport, sync, who is
 * here). The server renders the page around it and passes `{ doc, base }` as JSON in
 * `#weft-config`. Bundled by `client/ui/build.ts`.
 */
import * as Y from 'yjs'
import { EditorView, basicSetup } from 'codemirror'
import { placeholder, ViewPlugin, type EditorView as View } from '@codemirror/view'
import { markdown } from '@codemirror/lang-markdown'
import { yCollab } from 'y-codemirror.next'
import { connect, type Connection } from './connect.js'
import { loadIdentity, saveIdentity, type Identity } from './identity.js'

interface PageConfig {
  /** The doc name (not encoded). */
  doc: string
  /** Absolute URL where Weft's HTTP routes are mounted, without a trailing slash. */
  base: string
  /** The server requires tokens. */
  auth: boolean
}

/** The root type the editor edits; the home page snippets use the same name. */
const textField = 'text'

function readConfig (): PageConfig {
  const el = document.getElementById('weft-config')
  const config = JSON.parse(el?.textContent ?? '{}') as Partial<PageConfig>
  if (typeof config.doc !== 'string' || typeof config.base !== 'string') throw new Error('editor page: missing #weft-config')
  return { doc: config.doc, base: config.base, auth: config.auth === true }
}

const theme = EditorView.theme({
  '&': { height: '100%', fontSize: '15px', backgroundColor: '#fff' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, "JetBrains Mono", Menlo, Consolas, monospace', lineHeight: '1.6' },
  // Room above the first line for remote carets' name labels (they sit 1.45em above the caret).
  '.cm-content': { padding: '26px 0 18px' },
  '.cm-gutters': { backgroundColor: '#fafafa', borderRight: '1px solid #eee', color: '#aaa' },
  '&.cm-focused': { outline: 'none' },
  // Show remote names all the time (y-codemirror.next only shows them on hover): seeing who
  // types where is the point of this page.
  '.cm-ySelectionInfo': { opacity: '1', fontFamily: 'system-ui, sans-serif', fontWeight: '600', padding: '1px 5px', borderRadius: '4px 4px 4px 0', top: '-1.45em' },
  '.cm-ySelectionInfo.weft-flip': { left: 'auto', right: '-1px', borderRadius: '4px 4px 0 4px' }
})

/**
 * Keeps remote carets' name labels inside the editor: y-codemirror.next hangs each label to the
 * right of its caret, so a caret near the right edge (most of a phone's line) had its name cut
 * off. After each layout, a label that would stick out is anchored to the caret's right instead.
 */
const labelsInside = ViewPlugin.fromClass(class {
  constructor (readonly view: View) { this.schedule() }
  update (): void { this.schedule() }
  schedule (): void {
    this.view.requestMeasure({
      read: view => {
        const edge = view.scrollDOM.getBoundingClientRect().right
        return [...view.contentDOM.querySelectorAll<HTMLElement>('.cm-ySelectionInfo')].map(label => {
          const caret = label.parentElement!.getBoundingClientRect()
          return { label, flip: caret.left + label.offsetWidth > edge }
        })
      },
      write: labels => { for (const { label, flip } of labels) label.classList.toggle('weft-flip', flip) }
    })
  }
})

function el<K extends keyof HTMLElementTagNameMap> (tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

function renderPeople (container: HTMLElement, connection: Connection, selfId: number): number {
  const states = [...connection.awareness.getStates().entries()]
    .map(([id, state]) => ({ id, user: (state as { user?: Partial<Identity> }).user }))
    .filter(s => s.user !== undefined && typeof s.user.name === 'string')
    .sort((a, b) => (a.id === selfId ? -1 : b.id === selfId ? 1 : a.id - b.id))
  container.replaceChildren(...states.map(({ id, user }) => {
    const chip = el('span', id === selfId ? 'person me' : 'person')
    const dot = el('span', 'dot')
    dot.style.backgroundColor = /^#[0-9a-f]{6}$/i.test(user!.color ?? '') ? user!.color! : '#888'
    chip.append(dot, el('span', 'name', id === selfId ? `${user!.name!} (you)` : user!.name!))
    return chip
  }))
  return states.length
}

function start (): void {
  const config = readConfig()
  const ydoc = new Y.Doc()
  const ytext = ydoc.getText(textField)
  // With auth on, the page passes `?token=` from its own URL on to the connection.
  const token = new URLSearchParams(location.search).get('token') ?? undefined
  if (config.auth && token === undefined) document.body.classList.add('needs-token')
  if (token !== undefined) {
    // The viewer and the stream need the same token.
    for (const id of ['link-view', 'link-events']) {
      const link = document.getElementById(id) as HTMLAnchorElement | null
      if (link === null) continue
      const url = new URL(link.href)
      url.searchParams.set('token', token)
      link.href = url.toString()
    }
  }
  const connection = connect(config.base, config.doc, ydoc, token)
  let me = loadIdentity()
  connection.awareness.setLocalStateField('user', me)

  const view = new EditorView({
    parent: document.getElementById('editor')!,
    extensions: [
      basicSetup,
      markdown(),
      EditorView.lineWrapping,
      theme,
      placeholder('Start typing… then open this page in a second tab and watch both converge.'),
      yCollab(ytext, connection.awareness, { undoManager: new Y.UndoManager(ytext) }),
      labelsInside
    ]
  })

  const status = document.getElementById('status')!
  const transport = document.getElementById('transport')!
  const synced = document.getElementById('synced')!
  const people = document.getElementById('people')!
  const count = document.getElementById('count')!
  const chars = document.getElementById('chars')!
  const nameInput = document.getElementById('me') as HTMLInputElement | null

  const update = (): void => {
    status.textContent = connection.status
    status.dataset.status = connection.status
    transport.textContent = connection.transport
    synced.textContent = connection.synced ? 'synced' : 'syncing…'
    synced.dataset.synced = String(connection.synced)
    const n = renderPeople(people, connection, ydoc.clientID)
    count.textContent = n === 1 ? 'just you' : `${n} people here`
    chars.textContent = `${ytext.length.toLocaleString()} chars`
  }
  connection.onChange(update)
  connection.awareness.on('change', update)
  ytext.observe(update)
  update()

  if (nameInput !== null) {
    nameInput.value = me.name
    nameInput.style.borderColor = me.color
    nameInput.addEventListener('change', () => {
      const name = nameInput.value.trim().slice(0, 40)
      if (name === '') { nameInput.value = me.name; return }
      me = { ...me, name }
      saveIdentity(me)
      connection.awareness.setLocalStateField('user', me)
    })
  }

  window.addEventListener('pagehide', () => connection.destroy())
  // A handle for debugging in the console and for the browser tests.
  ;(window as unknown as { weft: unknown }).weft = { ydoc, ytext, view, connection, user: () => me }
  view.focus()
}

start()
