/**
 * Builds the browser bundle for the editor page (`/edit/:doc`) with esbuild: one minified ES
 * module per entry with a content hash in its name, plus `manifest.json` naming them, in
 * `dist/ui/`. The server serves the hashed files as immutable and reads the manifest to link
 * them, so a rebuild never leaves a browser with a stale cached script. Everything is bundled:
 * no CDN, the page works offline.
 *
 * Run: `npm run build:ui` (also part of `npm run build`, and of `npm start` when missing).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const outdir = join(root, 'dist', 'ui')

/** Entry name → source file. The page asks the manifest for `editor`. */
const entries = { editor: join(here, 'editor.ts') }

export async function buildUi (): Promise<Record<string, string>> {
  // Imported here, not at the top: esbuild is a dev dependency, and `npm start` must still start
  // the server (without the editor page) where it is missing.
  const { build } = await import('esbuild')
  // Build into a private directory and rename files into place, manifest last: a running server
  // (or a second build racing this one, e.g. two test files) never reads a half-written file.
  // The private directory sits beside dist/ui (same depth), so source map paths stay right.
  mkdirSync(outdir, { recursive: true })
  const tmp = mkdtempSync(join(outdir, '..', '.ui-build-'))
  try {
    const result = await build({
      entryPoints: entries,
      outdir: tmp,
      entryNames: '[name]-[hash]',
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      sourcemap: 'linked',
      metafile: true,
      legalComments: 'linked',
      logLevel: 'warning',
      define: { 'process.env.NODE_ENV': '"production"' }
    })
    const manifest: Record<string, string> = {}
    for (const [file, meta] of Object.entries(result.metafile.outputs)) {
      if (meta.entryPoint === undefined || !file.endsWith('.js')) continue
      const name = Object.entries(entries).find(([, src]) => meta.entryPoint !== undefined && join(root, meta.entryPoint) === src)?.[0]
      if (name !== undefined) manifest[name] = basename(file)
    }
    // Precompressed siblings, so the server sends ~200 KB instead of ~700 KB without compressing
    // on every request (and without a compression dependency).
    const keep = new Set<string>()
    for (const file of Object.keys(result.metafile.outputs)) {
      const name = basename(file)
      keep.add(name)
      if (!name.endsWith('.js')) continue
      const raw = readFileSync(join(tmp, name))
      writeFileSync(join(tmp, `${name}.br`), brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }))
      writeFileSync(join(tmp, `${name}.gz`), gzipSync(raw, { level: 9 }))
      keep.add(`${name}.br`)
      keep.add(`${name}.gz`)
    }
    for (const name of keep) renameSync(join(tmp, name), join(outdir, name))
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
    renameSync(join(tmp, 'manifest.json'), join(outdir, 'manifest.json'))
    // Old hashed files would pile up in dist/ui on every rebuild; keep only this build's.
    for (const f of readdirSync(outdir)) {
      if (f !== 'manifest.json' && !keep.has(f)) rmSync(join(outdir, f), { force: true })
    }
    return manifest
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * True when `dist/ui` lacks a file the manifest names, or a browser source (`client/`,
 * `shared/`) changed after the last build: what `npm start` checks before it starts the server.
 */
export function uiBundleStale (): boolean {
  const manifestFile = join(outdir, 'manifest.json')
  if (!existsSync(manifestFile)) return true
  let manifest: Record<string, string>
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, string>
  } catch {
    return true
  }
  if (Object.keys(entries).some(name => manifest[name] === undefined || !existsSync(join(outdir, manifest[name]!)))) return true
  const builtAt = statSync(manifestFile).mtimeMs
  return newerThan(join(root, 'client'), builtAt, 0) || newerThan(join(root, 'shared'), builtAt, 0)
}

function newerThan (dir: string, time: number, depth: number): boolean {
  if (depth > 4 || !existsSync(dir)) return false
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() ? newerThan(path, time, depth + 1) : (entry.name.endsWith('.ts') && statSync(path).mtimeMs > time)) return true
  }
  return false
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now()
  // `--if-stale` (used by `prestart`): a fresh clone builds once, later starts cost nothing.
  if (process.argv.includes('--if-stale') && !uiBundleStale()) process.exit(0)
  const soft = process.argv.includes('--if-stale')
  buildUi().then(manifest => {
    process.stdout.write(`built UI bundle in ${Date.now() - started} ms: ${Object.values(manifest).map(f => `dist/ui/${f}`).join(', ')}\n`)
  }, (err: Error) => {
    process.stderr.write(`UI build failed: ${err.message}\n`)
    // Before `npm start` a failed build must not keep the server from starting: the editor
    // page then says how to build the bundle.
    process.exit(soft ? 0 : 1)
  })
}
