/**
 * The CLI's logger: pino on stderr (stdout carries only the `listening on` line). JSON lines
 * by default when stderr is not a terminal (a log pipeline reads them as they are), a short
 * readable line when it is (pino-pretty). Writes are synchronous: the lines just before a crash
 * or a SIGKILL are the ones an operator needs.
 */
import { pino } from 'pino'
import type { Logger } from './logger.js'

const levels = ['debug', 'info', 'warn', 'error'] as const
export type Level = typeof levels[number]
export const isLevel = (s: string): s is Level => (levels as readonly string[]).includes(s)

const formats = ['json', 'pretty'] as const
export type LogFormat = typeof formats[number]
export const isLogFormat = (s: string): s is LogFormat => (formats as readonly string[]).includes(s)

/** The format when none is asked for: readable on a terminal, JSON anywhere else. */
export const defaultLogFormat = (): LogFormat => process.stderr.isTTY === true ? 'pretty' : 'json'

/** `node`: the node's name, on every line (cluster mode, or when `--node-id` is given). */
export async function cliLogger (level: Level, format: LogFormat = defaultLogFormat(), node?: string): Promise<Logger> {
  const options = { level, base: node === undefined ? { service: 'weft' } : { service: 'weft', node }, timestamp: pino.stdTimeFunctions.isoTime }
  let logger: Logger
  if (format === 'json') {
    logger = pino(options, pino.destination({ fd: 2, sync: true }))
  } else {
    // Loaded only for a terminal: it is a third of the logger's start-up cost.
    const { default: pretty } = await import('pino-pretty')
    logger = pino(options, pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }))
  }
  return logger
}
