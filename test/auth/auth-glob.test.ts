/** Doc patterns of the `docs` claim: exact names, `*` within a segment, `**` across them. */
import { describe, expect, it } from 'vitest'
import { docMatches, docsGrant } from '../../server/auth/glob.js'
import { grantFor } from '../../server/auth/jwt.js'
import { AuthError } from '../../server/options.js'

describe('doc patterns', () => {
  it('matches as documented', () => {
    const cases: Array<[string, string, boolean]> = [
      ['notes', 'notes', true], ['notes', 'notes2', false], ['team-a/*', 'team-a/notes', true],
      ['team-a/*', 'team-a/x/y', false], ['team-a/*', 'team-a/', true], ['team-a/*', 'team-b/x', false],
      ['team-a/**', 'team-a/x/y', true], ['**', 'any/thing/at/all', true], ['*', 'top', true], ['*', 'a/b', false],
      ['*.md', 'readme.md', true], ['*.md', 'readmexmd', false], ['a?c', 'abc', false], ['a?c', 'a?c', true],
      ['[x]', '[x]', true], ['*/notes', 'u1/notes', true], ['*/notes', 'u1/u2/notes', false], ['**/notes', 'u1/u2/notes', true],
      ['a*b*c', 'aXbYc', true], ['a*b*c', 'aXbY', false], ['***', 'a/b', true]
    ]
    for (const [p, d, want] of cases) expect(docMatches(p, d), `${p} on ${d}`).toBe(want)
    expect(docsGrant(['x', 'team-*/shared'], 'team-b/shared')).toBe(true)
  })

  it('does not backtrack on a near-miss (a regex of many stars would hang here)', () => {
    const pattern = '*a'.repeat(40) + 'b'
    expect(docMatches(pattern, 'a'.repeat(500))).toBe(false)
    expect(docMatches('**a'.repeat(40) + 'b', 'a'.repeat(500))).toBe(false)
  })

  it('checks claims: missing or malformed docs/access are 401, another doc is 403', () => {
    const status = (claims: Record<string, unknown>, doc = 'd'): number | 'ok' => {
      try { grantFor(claims, doc); return 'ok' } catch (err) { return (err as AuthError).status }
    }
    expect(status({ docs: 'd', access: 'read' })).toBe('ok')
    expect(status({ docs: ['x', 'd'], access: 'write', sub: 'u', exp: 1 })).toBe('ok')
    expect(status({ access: 'read' })).toBe(401)
    expect(status({ docs: [1], access: 'read' })).toBe(401)
    expect(status({ docs: 'd' })).toBe(401)
    expect(status({ docs: 'd', access: 'admin' })).toBe(401)
    expect(status({ docs: 'e', access: 'read' })).toBe(403)
    expect(grantFor({ docs: 'd', access: 'write', sub: 'ada', exp: 99 }, 'd')).toEqual({ access: 'write', user: 'ada', expiresAt: 99 })
  })
})
