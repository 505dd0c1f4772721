/**
 * The editor page's static assets: the esbuild bundle in `dist/ui/` (built by
 * `client/ui/build.ts`). File names carry a content hash, so they are served as immutable for a
 * year; the pages link them through `manifest.json`, read when a page is rendered (a rebuild
 * while the server runs is picked up at once). Precompressed `.br`/`.gz` siblings are sent to
 * browsers that accept them: the bundle is ~700 KB raw, ~200 KB compressed.
 */
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { extname, join } from 'node:path'
import type { Request, Response } from 'express'

/** dist/ui seen from the source tree (server/ui/) and from the compiled tree (dist/server/ui/). */
const candidates = ['../../dist/ui/', '../../ui/'].map(rel => fileURLToPath(new URL(rel, import.meta.url)))

/** Where the bundle lives (or would live): the first candidate holding a manifest, else the source-tree one. */
export function assetsDir (): string {
  return candidates.find(dir => existsSync(join(dir, 'manifest.json'))) ?? candidates[0]!
}

/** Entry name → hashed file name, or null when the bundle was never built. */
export async function readManifest (): Promise<Record<string, string> | null> {
  try {
    const manifest = JSON.parse(await readFile(join(assetsDir(), 'manifest.json'), 'utf8')) as unknown
    return manifest !== null && typeof manifest === 'object' ? manifest as Record<string, string> : null
  } catch {
    return null
  }
}

const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8'
}

// Only plain file names the build writes: no slashes, no dot-dot, nothing hidden.
const SAFE_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9]+)+$/

/** `GET /ui/assets/:file` */
export async function serveAsset (req: Request, res: Response): Promise<void> {
  const file = String(req.params.file ?? '')
  const type = contentTypes[extname(file)]
  if (!SAFE_NAME.test(file) || type === undefined) {
    res.status(404).type('text/plain').send('not found\n')
    return
  }
  const dir = assetsDir()
  const path = join(dir, file)
  const info = await stat(path).catch(() => null)
  if (info === null || !info.isFile()) {
    res.status(404).type('text/plain').send('not found (rebuild the UI bundle: npm run build:ui)\n')
    return
  }
  // Hashed names never change content; anything else (legal notices) revalidates.
  const hashed = /-[A-Z0-9]{8}\./.test(file)
  res.setHeader('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache')
  res.setHeader('Content-Type', type)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Vary', 'Accept-Encoding')
  res.setHeader('Last-Modified', info.mtime.toUTCString())
  const accepts = String(req.headers['accept-encoding'] ?? '')
  for (const [encoding, suffix] of [['br', '.br'], ['gzip', '.gz']] as const) {
    if (!new RegExp(`\\b${encoding}\\b`).test(accepts)) continue
    const body = await readFile(path + suffix).catch(() => null)
    if (body === null) continue
    res.setHeader('Content-Encoding', encoding)
    res.setHeader('Content-Length', body.byteLength)
    res.end(req.method === 'HEAD' ? undefined : body)
    return
  }
  const body = await readFile(path)
  res.setHeader('Content-Length', body.byteLength)
  res.end(req.method === 'HEAD' ? undefined : body)
}
