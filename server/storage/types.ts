/**
 * The storage seam: a handful of methods that move bytes. The rules (store before broadcast,
 * group commit, compaction policy, quarantine decisions) live above it, in `docs/`, once.
 * Every backend passes the same conformance suite (test/helpers/storage-suite.ts).
 */

/** One stored Yjs update (v1 encoding) and its per-doc sequence number. */
export interface UpdateRecord {
  seq: number
  update: Uint8Array
}

/** A record as loaded: backends store a checksum with each record (record-codec.ts). */
export interface LoadedRecord extends UpdateRecord {
  /** False when the stored checksum does not match: the doc layer quarantines the record. */
  intact: boolean
}

export interface StoredDocInfo {
  name: string
  /** Number of stored update records. */
  records: number
  /** Total bytes of stored updates. */
  bytes: number
}

/** One entry of a `MetaStore` namespace. */
export interface MetaEntry {
  key: string
  value: Uint8Array
}

/**
 * Small keyed values beside the docs' logs, in the same store (so they share its durability and
 * its backups): a doc's versions (docs/versions.ts), pending webhook deliveries (webhooks/).
 * Namespaces and keys are strings without control characters; values are bytes. Each call is
 * atomic on its own.
 */
export interface MetaStore {
  put (ns: string, key: string, value: Uint8Array): Promise<void>
  /** The value, or `undefined` for a key never put (or removed). */
  get (ns: string, key: string): Promise<Uint8Array | undefined>
  /** Every entry of a namespace in ascending key order (code-unit order); `[]` for an empty one. */
  list (ns: string): Promise<MetaEntry[]>
  /** Removes one key, or with no key the whole namespace. Removing what is absent is no error. */
  remove (ns: string, key?: string): Promise<void>
}

/** Throws for a namespace or key the stores cannot hold (they use control characters as separators). */
export function checkMetaName (what: 'namespace' | 'key', name: string): void {
  // eslint-disable-next-line no-control-regex
  if (typeof name !== 'string' || name.length === 0 || name.length > 1024 || /[\u0000-\u001f]/.test(name)) {
    throw new TypeError(`meta ${what} must be 1-1024 characters without control characters, got ${JSON.stringify(name)}`)
  }
}

export interface Storage {
  /** A short name for logs and /metrics, e.g. "leveldb". */
  readonly kind: string
  /** Opens the backend; called once at start so a bad location fails early and clearly. */
  open (): Promise<void>
  /**
   * Records of a doc in ascending `seq` order, checksums verified; `[]` for a doc never stored.
   * With `after`: only the records whose `seq` is greater (a node catching up on records another
   * node stored; a compacted record counts with its `seq`, the newest it covers).
   */
  load (doc: string, after?: number): Promise<LoadedRecord[]>
  /**
   * Appends `updates` atomically (after a crash either all of them are there or none) as the
   * doc's next records, and returns the sequence number of the first; the others follow one by
   * one. The store assigns them, past everything it has stored or assigned for the doc and past
   * `after` (the newest sequence number the caller knows: a new doc's first record comes after the
   * base its node chose, docs/doc-log.ts). So two writers of one doc — two nodes — never get the
   * same numbers: the second is numbered after the first, and sees a gap it back-fills with `load`.
   */
  append (doc: string, updates: readonly Uint8Array[], after: number): Promise<number>
  /**
   * Compaction: atomically replaces every record with `seq <= upToSeq` by one record
   * `{ seq: upToSeq, update }`. Records after `upToSeq` are kept.
   */
  replace (doc: string, upToSeq: number, update: Uint8Array): Promise<void>
  /**
   * Moves records that do not decode (or fail their checksum) out of the doc's log, under a key of their own, so the
   * rest of the doc can load and the bytes stay available for a human to inspect.
   */
  quarantine (doc: string, seqs: readonly number[]): Promise<void>
  /**
   * Deletes everything stored for a doc's log: records, quarantined records and its head (a doc
   * deleted, docs/delete.ts). Meta values are the caller's to remove. Idempotent.
   */
  delete (doc: string): Promise<void>
  /** Keyed values beside the logs (versions, webhook deliveries). */
  readonly meta: MetaStore
  /** Names and sizes of all stored docs. */
  list (): Promise<StoredDocInfo[]>
  /** Releases the backend; idempotent. */
  close (): Promise<void>
  /**
   * The newest sequence number stored for each of `docs` (absent: none stored). Shared stores
   * have it (PostgreSQL): the cluster's head check compares it with what each node applied.
   */
  heads? (docs: readonly string[]): Promise<Map<string, number>>
  /** Readiness: false while the backend cannot serve (e.g. database connection lost). */
  ready? (): boolean
  /**
   * After a failed write: resolves once the backend has recovered and proved it can store again
   * (LevelDB reopens its database first), rejects while it cannot. The doc layer calls it with
   * backoff, so a doc's failed state (and /readyz) clears without waiting for a writer.
   * Backends without it recover on the next write that succeeds.
   */
  verify? (): Promise<void>
}
