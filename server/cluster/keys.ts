/**
 * Redis keys and channels of a cluster. The doc name sits in a hash tag (`{…}`) so that a doc's
 * stream and channel map to one slot when Redis Cluster is used; `prefix` separates clusters that
 * share one Redis.
 */
export interface ClusterKeys {
  /** The stream of a doc's committed groups. */
  stream (doc: string): string
  /** The pub/sub channel of a doc's presence. */
  presence (doc: string): string
  /** The channel every node's heartbeat and goodbye go to. */
  readonly nodes: string
}

export function clusterKeys (prefix = 'weft'): ClusterKeys {
  // `{` and `}` in a name would move the hash tag: they are escaped (names are arbitrary text).
  const tag = (doc: string): string => doc.replace(/[{}\\]/g, c => `\\${c}`)
  return {
    stream: doc => `${prefix}:{${tag(doc)}}:log`,
    presence: doc => `${prefix}:{${tag(doc)}}:presence`,
    nodes: `${prefix}:nodes`
  }
}
