/** The CLI's logger: one line per entry on stderr, from a minimum level up. */
import type { Logger } from './logger.js'

const levels = ['debug', 'info', 'warn', 'error'] as const
export type Level = typeof levels[number]
export const isLevel = (s: string): s is Level => (levels as readonly string[]).includes(s)

export function consoleLogger (min: Level, write: (line: string) => void = line => process.stderr.write(line)): Logger {
  const minIndex = levels.indexOf(min)
  const make = (level: Level) => (objOrMsg: object | string, msg?: string): void => {
    if (levels.indexOf(level) < minIndex) return
    const time = new Date().toISOString()
    if (typeof objOrMsg === 'string') return write(`${time} ${level} ${objOrMsg}\n`)
    const fields = Object.entries(objOrMsg).map(([k, v]) => `${k}=${format(v)}`).join(' ')
    write(`${time} ${level} ${msg ?? ''} ${fields}\n`)
  }
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') }
}

function format (v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message)
  if (typeof v === 'string') return JSON.stringify(v)
  try { return JSON.stringify(v) } catch { return String(v) }
}
