/**
 * `npm run bench` flags (bench/lib/args.ts): a wrong flag or value is refused with one line that
 * names it, before anything is built or started; good ones come back typed.
 */
import { describe, expect, it } from 'vitest'
import { parseBenchArgs, usage, UsageError } from '../../bench/lib/args.js'

const scenarios = ['fanout', 'idle', 'presence']
const targets = ['weft', 'weft-memory', 'reference', 'relay']
const parse = (...argv: string[]): ReturnType<typeof parseBenchArgs> => parseBenchArgs(argv, scenarios, targets)

describe('bench flags', () => {
  it('defaults: every scenario, no filters', () => {
    expect(parse()).toEqual({ quick: false, only: scenarios, repeats: undefined, targets: undefined, levels: undefined, windows: undefined, baseline: undefined, webhook: false })
  })

  it('reads every flag', () => {
    expect(parse('--quick', '--only', 'fanout,idle', '--repeats', '3', '--targets', 'weft,relay', '--levels', '1,5,0.5', '--windows', '0,20', '--baseline', 'main~2', '--webhook')).toEqual({
      quick: true, only: ['fanout', 'idle'], repeats: 3, targets: ['weft', 'relay'], levels: [1, 5, 0.5], windows: [0, 20], baseline: 'main~2', webhook: true
    })
  })

  it('--help and -h ask for the usage, which lists the scenarios and targets', () => {
    expect(parse('--help')).toBeNull()
    expect(parse('-h')).toBeNull()
    const text = usage(scenarios, targets)
    for (const name of [...scenarios, ...targets]) expect(text).toContain(name)
  })

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--quick', 'extra'], /positional/],
    [['--only', 'fanot'], /--only: unknown "fanot"; known: fanout, idle, presence/],
    [['--targets', 'weft,nope'], /--targets: unknown "nope"/],
    [['--repeats', '0'], /--repeats: "0" is not a whole number/],
    [['--repeats', '2.5'], /--repeats: "2.5"/],
    [['--repeats', '2,3'], /--repeats takes one number/],
    [['--levels', '1,,5'], /--levels: "" is not a load level/],
    [['--levels', 'x'], /--levels: "x"/],
    [['--levels', '0'], /--levels: "0"/],
    [['--windows=-1'], /--windows: "-1" is not a window/],
    [['--windows', '2.5'], /--windows: "2.5"/]
  ])('refuses %j with a line naming it', (argv, message) => {
    expect(() => parse(...argv)).toThrow(UsageError)
    expect(() => parse(...argv)).toThrow(message)
  })
})
