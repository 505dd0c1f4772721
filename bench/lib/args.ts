/**
 * `npm run bench` flags: usage, parsing and checks. A wrong flag or value is one line naming it
 * and what is accepted (exit 2), found before anything is built or started, instead of a stack
 * trace or a run of NaN levels twenty minutes in.
 */
import { parseArgs } from 'node:util'

export interface BenchArgs {
  quick: boolean
  only: string[]
  repeats: number | undefined
  targets: string[] | undefined
  levels: number[] | undefined
  windows: number[] | undefined
  baseline: string | undefined
  webhook: boolean
}

export const usage = (scenarios: readonly string[], targets: readonly string[]): string => `\
Usage: npm run bench -- [options]

Runs each scenario against each target (own process, free port, fresh data dir), prints the
medians as a markdown table with Weft/target ratios, writes the raw samples to
bench/results/<date>.json. See bench/README.md.

Options:
  --quick               smaller loads, 1 repeat (about 4 min for all scenarios)
  --only a,b            scenarios to run (default: all): ${scenarios.join(', ')}
  --repeats N           repeats per scenario, medians reported (default: 3; 1 with --quick)
  --targets a,b         targets to run where a scenario runs them (default: each scenario's own):
                        ${targets.join(', ')}
  --levels 1,5,10       fanout load levels, multiples of 1 edit per client per 500 ms
  --windows 0,5,20      presence: also run Weft with each --presence-coalesce-ms
  --baseline <git ref>  also run Weft as of that commit (target weft-baseline)
  --webhook             Weft targets POST their doc events to a receiver in the bench
  -h, --help            this text

Environment: BENCH_PROF=<dir> BENCH_PROF_TARGET=<target> (--cpu-prof of one target),
BENCH_PRESENCE_ROOMS / BENCH_PROVIDER_ROOMS=10x5,20x1 (users x rooms), BENCH_WARMUP_MS,
BENCH_POSTGRES (cluster scenario's PostgreSQL URL).
`

export class UsageError extends Error {}

/** A comma-separated list of numbers, each accepted by `ok` (described by `what`). */
function numbers (flag: string, value: string, ok: (n: number) => boolean, what: string): number[] {
  return value.split(',').map(s => {
    const n = Number(s)
    if (s.trim() === '' || !ok(n)) throw new UsageError(`--${flag}: "${s}" is not ${what}`)
    return n
  })
}

/** A comma-separated list of names, each one of `known`. */
function names (flag: string, value: string, known: readonly string[]): string[] {
  const list = value.split(',')
  for (const name of list) if (!known.includes(name)) throw new UsageError(`--${flag}: unknown "${name}"; known: ${known.join(', ')}`)
  return list
}

/** The flags in `argv`, checked; null when help was asked for. Throws `UsageError`. */
export function parseBenchArgs (argv: string[], scenarios: readonly string[], targets: readonly string[]): BenchArgs | null {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        repeats: { type: 'string' },
        targets: { type: 'string' },
        levels: { type: 'string' },
        windows: { type: 'string' },
        baseline: { type: 'string' },
        webhook: { type: 'boolean', default: false }
      }
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help === true) return null
  const repeats = values.repeats === undefined ? undefined : numbers('repeats', values.repeats, n => Number.isInteger(n) && n >= 1, 'a whole number of at least 1')
  if (repeats !== undefined && repeats.length !== 1) throw new UsageError('--repeats takes one number')
  return {
    quick: values.quick === true,
    only: values.only === undefined ? [...scenarios] : names('only', values.only, scenarios),
    repeats: repeats?.[0],
    targets: values.targets === undefined ? undefined : names('targets', values.targets, targets),
    levels: values.levels === undefined ? undefined : numbers('levels', values.levels, n => Number.isFinite(n) && n > 0, 'a load level above 0'),
    windows: values.windows === undefined ? undefined : numbers('windows', values.windows, n => Number.isInteger(n) && n >= 0, 'a window in whole ms (0 or more)'),
    baseline: values.baseline,
    webhook: values.webhook === true
  }
}
