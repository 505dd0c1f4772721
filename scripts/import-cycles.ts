/**
 * Lists the import cycles among the TypeScript modules under the given folders (default:
 * server/ shared/ client/), counting value and type imports alike: a type-only loop is still a
 * loop in the design; then the loops between the folders inside each of them (server/http ↔
 * server/ui would be one; a module at a root's top level, such as server/weft.ts, belongs to no
 * folder). Exits 1 when there is any. `npm run check:cycles`.
 *
 * Relative specifiers only (`./x.js` → `./x.ts`): packages cannot import our code back.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['server', 'shared', 'client']
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

function files (dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return files(path)
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : []
  })
}

const graph = new Map<string, string[]>()
for (const file of roots.flatMap(files)) {
  const text = readFileSync(file, 'utf8')
  const deps: string[] = []
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2])!
    deps.push(relative('.', resolve(dirname(file), spec.replace(/\.js$/, '.ts'))))
  }
  graph.set(relative('.', file), deps.filter(d => d !== relative('.', file)))
}

/** Tarjan's strongly connected components: every component of more than one node is a loop. */
function loopsOf (graph: Map<string, string[]>): string[][] {
let index = 0
const stack: string[] = []
const on = new Set<string>()
const idx = new Map<string, number>()
const low = new Map<string, number>()
const loops: string[][] = []
function visit (v: string): void {
  idx.set(v, index); low.set(v, index); index++
  stack.push(v); on.add(v)
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue
    if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)) } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
  }
  if (low.get(v) === idx.get(v)) {
    const scc: string[] = []
    let w: string
    do { w = stack.pop()!; on.delete(w); scc.push(w) } while (w !== v)
    if (scc.length > 1) loops.push(scc.sort())
  }
}
for (const v of graph.keys()) if (!idx.has(v)) visit(v)
return loops
}

/** `server/http/x.ts` → `server/http`; a root's own top-level modules → null. */
function folderOf (file: string): string | null {
  const parts = file.split('/')
  return parts.length > 2 ? parts.slice(0, 2).join('/') : null
}
const folders = new Map<string, string[]>()
for (const [file, deps] of graph) {
  const from = folderOf(file)
  if (from === null) continue
  const out = folders.get(from) ?? []
  for (const d of deps) {
    const to = folderOf(d)
    if (to !== null && to !== from && graph.has(d) && !out.includes(to)) out.push(to)
  }
  folders.set(from, out)
}

const moduleLoops = loopsOf(graph)
const folderLoops = loopsOf(folders)
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
console.log(`${graph.size} modules under ${roots.join(', ')}: ${plural(moduleLoops.length, 'import loop')}`)
for (const scc of moduleLoops) console.log(`  loop: ${scc.join(' ↔ ')}`)
console.log(`${folders.size} folders: ${plural(folderLoops.length, 'loop')} between folders`)
for (const scc of folderLoops) console.log(`  loop: ${scc.join(' ↔ ')}`)
process.exit(moduleLoops.length + folderLoops.length > 0 ? 1 : 0)
