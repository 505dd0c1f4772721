import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { inferKind, jsonView, parseTypes, TypesSpecError } from '../../server/docs/json-view.js'
import { rng } from '../helpers/random.js'

/** What the server has: a doc built from updates only, whose roots are untyped. */
function asServerSees (src: Y.Doc): Y.Doc {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(src))
  return doc
}

/** A doc shaped the way y-prosemirror writes it: XmlElement nodes, XmlText with marks as formats. */
function prosemirrorDoc (): Y.Doc {
  const src = new Y.Doc()
  const frag = src.getXmlFragment('prosemirror')
  const heading = new Y.XmlElement('heading')
  const para = new Y.XmlElement('paragraph')
  const list = new Y.XmlElement('bullet_list')
  const item = new Y.XmlElement('list_item')
  const itemPara = new Y.XmlElement('paragraph')
  frag.insert(0, [heading, para, list])
  heading.setAttribute('level', 2 as unknown as string) // y-prosemirror stores attrs as they are
  const ht = new Y.XmlText()
  heading.insert(0, [ht])
  ht.insert(0, 'Title')
  const pt = new Y.XmlText()
  para.insert(0, [pt])
  pt.insert(0, 'Hello ')
  pt.insert(6, 'bold', { strong: true })
  pt.insert(10, ' and ', {}) // y-prosemirror passes marks explicitly; {} = none
  pt.insert(15, 'a link', { link: { href: 'https://example.com/?a=1&b="2"' } })
  list.insert(0, [item])
  item.insert(0, [itemPara])
  const it = new Y.XmlText()
  itemPara.insert(0, [it])
  it.insert(0, 'one')
  return src
}

describe('JSON view', () => {
  it('renders a ProseMirror-shaped XmlFragment as escaped XML, inferred from content', () => {
    const doc = asServerSees(prosemirrorDoc())
    expect(doc.share.get('prosemirror')!.constructor).toBe(Y.AbstractType)
    const view = jsonView(doc)
    expect(view.types).toEqual({ prosemirror: 'xml' })
    expect(view.content.prosemirror).toBe(
      '<heading level="2">Title</heading>' +
      '<paragraph>Hello <strong>bold</strong> and <link href="https://example.com/?a=1&amp;b=&quot;2&quot;">a link</link></paragraph>' +
      '<bullet_list><list_item><paragraph>one</paragraph></list_item></bullet_list>'
    )
    // Reading never converted the shared root, so the app may still type it any way.
    expect(doc.share.get('prosemirror')!.constructor).toBe(Y.AbstractType)
  })

  it('escapes markup inside XML text, attribute values and hostile element names', () => {
    const src = new Y.Doc()
    const frag = src.getXmlFragment('f')
    const p = new Y.XmlElement('paragraph')
    const evil = new Y.XmlElement('img src=x onerror=alert(1)')
    frag.insert(0, [p, evil])
    const t = new Y.XmlText()
    p.insert(0, [t])
    t.insert(0, '<script>alert(1)</script> & more')
    evil.setAttribute('title', '"><script>x</script>')
    const xml = jsonView(asServerSees(src)).content.f as string
    expect(xml).toBe('<paragraph>&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</paragraph>' +
      '<img_src_x_onerror_alert_1_ title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"></img_src_x_onerror_alert_1_>')
    expect(xml).not.toContain('<script')
  })

  it('renders a CodeMirror-shaped Y.Text (edited, with deletions) as its string', () => {
    const src = new Y.Doc()
    const text = src.getText('codemirror')
    const r = rng(7)
    for (let i = 0; i < 300; i++) {
      if (text.length > 0 && r.int(4) === 0) text.delete(r.int(text.length), 1)
      else text.insert(r.int(text.length + 1), r.int(5) === 0 ? '\n' : 'abc{}();'[r.int(8)]!)
    }
    const view = jsonView(asServerSees(src))
    expect(view.types.codemirror).toBe('text')
    expect(view.content.codemirror).toBe(text.toString())
    expect((view.content.codemirror as string).length).toBeGreaterThan(50)
  })

  it('renders rich Y.Text (Quill-style formats and embeds) as its plain string', () => {
    const src = new Y.Doc()
    const t = src.getText('quill')
    t.insert(0, 'plain ')
    t.insert(6, 'bold', { bold: true })
    t.insertEmbed(10, { image: 'x.png' })
    t.insert(11, '!')
    expect(jsonView(asServerSees(src)).content.quill).toBe('plain bold!')
  })

  it('matches Yjs toJSON for random map and array docs, with nested types', () => {
    const src = new Y.Doc()
    const m = src.getMap('meta')
    const a = src.getArray('items')
    const r = rng(11)
    for (let i = 0; i < 200; i++) {
      const op = r.int(6)
      if (op === 0) m.set(`k${r.int(10)}`, r.int(100))
      else if (op === 1) m.delete(`k${r.int(10)}`)
      else if (op === 2) a.insert(r.int(a.length + 1), [{ n: i, s: 'x' }, [i, null, true]])
      else if (op === 3 && a.length > 0) a.delete(r.int(a.length), 1)
      else if (op === 4) { const nested = new Y.Map(); m.set(`nested${r.int(3)}`, nested); nested.set('v', i) }
      else { const arr = new Y.Array<number>(); a.push([arr]); arr.push([i, i + 1]) }
    }
    const t = new Y.Text()
    m.set('note', t)
    t.insert(0, 'nested text')
    const view = jsonView(asServerSees(src))
    expect(view.types).toEqual({ meta: 'map', items: 'array' })
    expect(view.content.meta).toEqual(m.toJSON())
    expect(view.content.items).toEqual(a.toJSON())
    expect(JSON.parse(JSON.stringify(view.content))).toEqual({ meta: m.toJSON(), items: a.toJSON() })
  })

  it('keeps hostile map keys as data and renders binary as base64', () => {
    const src = new Y.Doc()
    const m = src.getMap('m')
    m.set('__proto__', { polluted: true })
    m.set('bin', new Uint8Array([1, 2, 3]))
    const content = jsonView(asServerSees(src)).content.m as Record<string, unknown>
    expect(JSON.stringify(content)).toBe('{"__proto__":{"polluted":true},"bin":"AQID"}')
    expect(({} as any).polluted).toBeUndefined()
  })

  it('honours pinned types, including roots that do not exist yet', () => {
    const src = new Y.Doc()
    src.getText('body').insert(0, 'abc')
    src.getText('body').delete(0, 3) // all deleted: content says nothing any more
    src.getArray('list').push([1])
    src.getArray('list').delete(0, 1)
    const doc = asServerSees(src)
    expect(inferKind(doc.share.get('list')!)).toBe('text') // the documented guess
    const view = jsonView(doc, parseTypes('list:array,meta:map,notes:xml,body:text'))
    expect(view.content).toEqual({ body: '', list: [], meta: {}, notes: '' })
    expect(view.types).toEqual({ body: 'text', list: 'array', meta: 'map', notes: 'xml' })
  })

  it('parses type pins strictly', () => {
    expect([...parseTypes('a:b:text,m:MAP,x:xmlfragment')]).toEqual([['a:b', 'text'], ['m', 'map'], ['x', 'xml']])
    expect(parseTypes(undefined).size).toBe(0)
    for (const bad of ['body', 'body:string', ':text', 'a:text,,b:map']) {
      expect(() => parseTypes(bad), bad).toThrow(TypesSpecError)
    }
  })

  it('renders a doc the server typed itself the same way', () => {
    const src = prosemirrorDoc()
    src.getText('code').insert(0, 'x = 1')
    const fresh = asServerSees(src)
    expect(jsonView(src).content).toEqual(jsonView(fresh).content)
  })
})
