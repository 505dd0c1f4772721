/**
 * The CLI's check of `--data` before LevelDB sees it. LevelDB creates its directory with a
 * recursive mkdir, and Node's recursive mkdir never returns for a path under /proc (it retries
 * the ENOENT forever): `--data /proc/x` hung silently. Other bad paths only said "Database failed
 * to open". Here each missing level is created on its own, so the first one that fails names
 * itself and the reason.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

export class DataDirError extends Error {
  override name = 'DataDirError'
}

/** Makes sure `path` is a writable directory, creating missing levels; throws `DataDirError`. */
export function prepareDataDir (path: string): string {
  const full = resolve(path)
  const missing: string[] = []
  let at = full
  for (;;) {
    try {
      const stat = statSync(at)
      if (!stat.isDirectory()) throw new DataDirError(`--data ${path}: ${at} exists and is not a directory`)
      break
    } catch (err) {
      if (err instanceof DataDirError) throw err
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT') throw new DataDirError(`--data ${path}: cannot use ${at} (${code ?? (err as Error).message})`)
      missing.unshift(at)
      const parent = dirname(at)
      if (parent === at) throw new DataDirError(`--data ${path}: no existing parent directory`)
      at = parent
    }
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new DataDirError(`--data ${path}: cannot create ${dir} (${code ?? (err as Error).message}${code === 'ENOENT' ? ': this file system does not allow new directories here' : ''})`)
    }
  }
  try {
    accessSync(full, constants.R_OK | constants.W_OK)
  } catch (err) {
    throw new DataDirError(`--data ${path}: ${full} is not readable and writable (${(err as NodeJS.ErrnoException).code ?? ''})`)
  }
  return full
}
