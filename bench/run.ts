/**
 * `npm run bench [-- --quick] [--only fanout,idle] [--repeats N] [--targets weft,relay] [--windows 0,5,20] [--baseline <git ref>]`
 * (`--help`: every flag; bench/lib/args.ts).
 * `--baseline main~3`: Weft as of that commit runs too (target `weft-baseline`, beside `weft` in
 * every scenario), so a refactor's cost is measured before and after in the same run.
 * Builds the processes, forks the load generator, runs each scenario against each target (own
 * process, free port, fresh data dir, order rotated per repeat), prints the medians as a markdown
 * table with Weft/target ratios and writes the raw samples to `bench/results/<date>.json`.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchDir, buildAll, rootDir } from './lib/build.js'
import { targets } from './lib/targets.js'
import { failures, onFailure, type BenchContext } from './lib/context.js'
import { LoadGen } from './lib/loadgen.js'
import { startWebhookSink } from './lib/webhook-sink.js'
import { aggregate, environment, markdown } from './lib/report.js'
import { parseBenchArgs, usage, UsageError, type BenchArgs } from './lib/args.js'
import { cluster } from './scenarios/cluster.js'
import { coldload } from './scenarios/coldload.js'
import { fanout } from './scenarios/fanout.js'
import { idle } from './scenarios/idle.js'
import { presence } from './scenarios/presence.js'
import { presenceProviders } from './scenarios/presence-providers.js'
import { sse } from './scenarios/sse.js'
import { storm } from './scenarios/storm.js'
import { trace } from './scenarios/trace.js'

const scenarios: Record<string, (ctx: BenchContext) => Promise<void>> = { fanout, idle, coldload, storm, sse, trace, presence, 'presence-providers': presenceProviders, cluster }

let args: BenchArgs
try {
  const parsed = parseBenchArgs(process.argv.slice(2), Object.keys(scenarios), Object.keys(targets))
  if (parsed === null) {
    process.stdout.write(usage(Object.keys(scenarios), Object.keys(targets)))
    process.exit(0)
  }
  args = parsed
} catch (err) {
  if (!(err instanceof UsageError)) throw err
  process.stderr.write(`bench: ${err.message}\nRun \`npm run bench -- --help\` for the options.\n`)
  process.exit(2)
}
const quick = args.quick
const only = args.only

const env = environment()
const started = performance.now()
const log = (line: string): void => { process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`) }
log(`weft bench ${quick ? '(quick)' : ''}: ${only.join(', ')}`)
for (const [k, v] of Object.entries(env)) log(`  ${k}: ${v}`)

onFailure(log)
let baselineDir: string | undefined
if (args.baseline !== undefined) {
  // The tree of that commit, unpacked beside the others; it resolves packages from ours.
  baselineDir = mkdtempSync(join(tmpdir(), 'weft-baseline-'))
  execFileSync('sh', ['-c', `git -C "$1" archive "$2" server shared | tar -x -C "$3"`, 'sh', rootDir, args.baseline, baselineDir])
  process.env.BENCH_BASELINE = `${args.baseline} (${execFileSync('git', ['-C', rootDir, 'rev-parse', '--short', args.baseline]).toString().trim()})`
  targets['weft-baseline'].label = `Weft at ${process.env.BENCH_BASELINE}`
  log(`  baseline: ${process.env.BENCH_BASELINE}`)
}
await buildAll(baselineDir)
// `--webhook`: the Weft targets POST their doc events to a receiver here (lib/webhook-sink.ts).
const sink = args.webhook ? await startWebhookSink() : null
if (sink !== null) {
  process.env.WEFT_WEBHOOK = sink.url
  process.env.WEFT_WEBHOOK_SECRET ??= 'a-bench-webhook-secret'
  log(`  webhooks: on, to ${sink.url} (quiet ${process.env.WEFT_WEBHOOK_QUIET_MS ?? 2000} ms, max delay ${process.env.WEFT_WEBHOOK_MAX_DELAY_MS ?? 10000} ms)`)
}
const loadgen = new LoadGen()
const ctx: BenchContext = {
  quick,
  repeats: args.repeats ?? (quick ? 1 : 3),
  loadgen,
  samples: [],
  log,
  only: (list) => {
    const all = baselineDir !== undefined && list.includes('weft') ? [...list, 'weft-baseline' as const] : [...list]
    // `--targets …,weft-memory`: Weft without storage beside Weft, wherever Weft runs: what storing costs.
    if (list.includes('weft') && args.targets?.includes('weft-memory') === true) all.push('weft-memory')
    return args.targets === undefined ? all : all.filter(t => args.targets!.includes(t))
  },
  levels: args.levels,
  windows: args.windows
}
const resultsDir = join(benchDir, 'results')
mkdirSync(resultsDir, { recursive: true })
const file = join(resultsDir, `${env.date!.replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`)
const save = (): void => writeFileSync(file, JSON.stringify({ env, quick, command: process.argv.slice(2), failures, samples: ctx.samples }, null, 1))

try {
  for (const name of only) {
    log(`scenario ${name}`)
    await scenarios[name]!(ctx)
    save()
  }
} finally {
  loadgen.close()
  if (sink !== null) {
    log(`webhooks: ${sink.received()} deliveries received`)
    await sink.close()
  }
}

const table = markdown(aggregate(ctx.samples))
const header = Object.entries(env).map(([k, v]) => `- ${k}: ${v}`).join('\n')
process.stdout.write(`\n## Weft bench ${quick ? '(quick) ' : ''}— medians of ${ctx.repeats} run(s)\n\n${header}\n\n${table}\n\n${failures.length === 0 ? 'no failed runs' : `FAILED runs (${failures.length}):\n${failures.map(f => `- ${f.target}: ${f.error}`).join('\n')}`}\n\nraw samples: ${file}\ntook ${((performance.now() - started) / 1000).toFixed(0)} s\n`)
