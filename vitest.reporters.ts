/**
 * Reporters for both test configs. With WEFT_TEST_REPORT=<path prefix> (set by .ci/run), each
 * run also writes vitest's JSON report to `<prefix>-<run>.json`, which .ci/run adds up into its
 * one "N passed, M failed" line.
 */
export function reporters (run: string): Array<string | [string, Record<string, unknown>]> {
  const prefix = process.env.WEFT_TEST_REPORT
  return prefix === undefined || prefix === '' ? ['default'] : ['default', ['json', { outputFile: `${prefix}-${run}.json` }]]
}
