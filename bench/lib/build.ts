/**
 * Bundles the bench's processes (and Weft's CLI) with esbuild into `bench/.build/`, so each
 * runs under plain `node`: no tsx loader inside the measured process, and the pid we spawn is
 * the server itself. Packages stay external and resolve from the project's node_modules.
 */
import { build } from 'esbuild'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const benchDir = dirname(dirname(fileURLToPath(import.meta.url)))
export const rootDir = dirname(benchDir)
export const buildDir = join(benchDir, '.build')

const entries: Record<string, string> = {
  weft: join(rootDir, 'server/cli.ts'),
  relay: join(benchDir, 'servers/relay.ts'),
  'sse-broadcast': join(benchDir, 'servers/sse-broadcast.ts'),
  hocuspocus: join(benchDir, 'servers/hocuspocus.ts'),
  loadgen: join(benchDir, 'load/main.ts')
}

/** `baselineDir`: a checkout of an earlier commit, bundled as `weft-baseline` (`--baseline`). */
export async function buildAll (baselineDir?: string): Promise<void> {
  await build({
    entryPoints: baselineDir === undefined ? entries : { ...entries, 'weft-baseline': join(baselineDir, 'server/cli.ts') },
    outdir: buildDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning'
  })
}
