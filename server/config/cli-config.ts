/**
 * The CLI's configuration: each setting of settings.ts from its flag, else its environment
 * variable, else `--config FILE` (JSON, keys as the option names), else its default. Every
 * value is checked with the setting's schema; a bad one is a `ConfigError` naming where it came
 * from (`--max-docs`, `WEFT_MAX_DOCS` or `"maxDocs" in weft.json`), the value and what was
 * expected, which the CLI prints before exiting 2.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { envOf, expected, flagOf, schemaOf, settings, type Setting } from './settings.js'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export type Config = Record<string, unknown>

export type Parsed = { kind: 'help' } | { kind: 'version' } | { kind: 'run', config: Config, from: Record<string, string> }

const booleanWords: Record<string, boolean> = { 1: true, true: true, yes: true, on: true, 0: false, false: false, no: false, off: false }

/** A text from a flag or an environment variable, as the setting's type. */
function fromText (s: Setting, text: string, where: string): unknown {
  switch (s.type) {
    case 'int':
      if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(`${where} must be ${expected(s)}, got "${text}"`)
      return Number(text)
    case 'boolean': {
      const b = booleanWords[text.trim().toLowerCase()]
      if (b === undefined) throw new ConfigError(`${where} must be true or false (1/0, yes/no), got "${text}"`)
      return b
    }
    case 'list': return text.split(s.repeatable === true ? /[\s,]+/ : ',').map(o => o.trim()).filter(o => o !== '')
    default: return text
  }
}

function check (s: Setting, value: unknown, where: string): unknown {
  if (!schemaOf(s).safeParse(value).success) throw new ConfigError(`${where} must be ${expected(s)}, got ${JSON.stringify(value)}`)
  return value
}

function readConfigFile (path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`--config ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`--config ${path}: not JSON (${(err as Error).message})`)
  }
  if (json == null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(`--config ${path}: must hold one JSON object of options, such as { "port": 8080, "maxDocs": 500 }`)
  const known = new Set(settings.map(s => s.name))
  for (const key of Object.keys(json)) {
    if (!known.has(key)) throw new ConfigError(`--config ${path}: unknown option "${key}" (known: ${[...known].sort().join(', ')})`)
  }
  return json as Record<string, unknown>
}

export function parseConfig (argv: string[], env: NodeJS.ProcessEnv): Parsed {
  const options: Record<string, { type: 'string' | 'boolean', short?: string, multiple?: boolean }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' }
  }
  for (const s of settings) {
    options[flagOf(s)] = { type: s.type === 'boolean' ? 'boolean' : 'string', ...(s.repeatable === true ? { multiple: true } : {}) }
    if (s.offFlag !== undefined) options[s.offFlag] = { type: 'boolean' }
  }
  let values: Record<string, string | boolean | string[] | undefined>
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  if (values.help === true) return { kind: 'help' }
  if (values.version === true) return { kind: 'version' }
  const configPath = (values.config as string | undefined) ?? env.WEFT_CONFIG
  const file = configPath !== undefined ? readConfigFile(configPath) : {}
  const config: Config = {}
  const from: Record<string, string> = {}
  for (const s of settings) {
    const flag = flagOf(s)
    const envName = envOf(s)
    let value: unknown
    if (values[flag] !== undefined) {
      const given = values[flag]
      value = typeof given === 'boolean' ? given : Array.isArray(given) ? given.flatMap(t => fromText(s, t, `--${flag}`) as string[]) : fromText(s, given!, `--${flag}`)
      from[s.name] = `--${flag}`
    } else if (s.offFlag !== undefined && values[s.offFlag] === true) {
      value = false
      from[s.name] = `--${s.offFlag}`
    } else if (env[envName] !== undefined && env[envName] !== '') {
      value = fromText(s, env[envName], envName)
      from[s.name] = envName
    } else if (file[s.name] !== undefined) {
      value = file[s.name]
      from[s.name] = `"${s.name}" in ${configPath!}`
    } else {
      if (s.default !== undefined) config[s.name] = s.default
      continue
    }
    config[s.name] = check(s, value, from[s.name]!)
  }
  // The burst follows the rate unless it is set itself.
  if (from.maxMessagesPerSecond !== undefined && from.messageBurst === undefined) config.messageBurst = (config.maxMessagesPerSecond as number) * 3
  return { kind: 'run', config, from }
}
