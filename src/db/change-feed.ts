import pg from 'pg';

/** The PostgreSQL channel the change triggers notify (migration 0016). */
export const CHANGE_CHANNEL = 'producer_idp_changes';

/** What a change notification says: which table of which schema changed, and the row's key. */
export interface Change {
  schema: string;
  table: string;
  /** The changed row's key (`oidc_payloads`: the client id), or `*` for the whole table. */
  key: string;
}

/**
 * Parses a notification payload `schema table key` (space-separated; the key may hold spaces).
 * @returns undefined for a payload of another shape.
 */
export function parseChange(payload: string | undefined): Change | undefined {
  if (!payload) return undefined;
  const [schema, table, ...rest] = payload.split(' ');
  if (!schema || !table || rest.length === 0) return undefined;
  return { schema, table, key: rest.join(' ') };
}

/**
 * Tells caches in this process when rows they hold changed in the database, whoever changed them
 * (this process, another replica, the CLI): triggers of migration 0016 `NOTIFY producer_idp_changes`
 * at commit, and the feed LISTENs on a connection of its own. While it is not listening (not
 * started, connection lost, database down) it is not `live`, and caches must not serve: they read
 * the database as if they did not exist, so a lost notification can never serve a stale row. Every
 * change of `live` also resets subscribers, since notifications may have been missed meanwhile.
 */
export class ChangeFeed {
  #live = false;
  #stopped = false;
  #subscribers = new Set<(change: Change | 'reset') => void>();
  readonly #schema: string;
  readonly #connect: ((onChange: (payload: string | undefined) => void, onLost: () => void) => Promise<() => Promise<void>>) | undefined;
  #disconnect: (() => Promise<void>) | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = 500;

  /**
   * @param schema only changes of this schema are passed on (tests run many schemas in one database).
   * @param connect starts listening, calling `onChange` per notification and `onLost` once when the
   *   connection is lost; resolves to a function that stops listening. Undefined: never live (CLI).
   */
  constructor(schema: string, connect?: (onChange: (payload: string | undefined) => void, onLost: () => void) => Promise<() => Promise<void>>) {
    this.#schema = schema;
    this.#connect = connect;
  }

  /** True while notifications arrive: a cache may serve what it holds. */
  get live(): boolean {
    return this.#live;
  }

  /**
   * Calls `fn` for every change of this schema, and with `'reset'` whenever changes may have been
   * missed (the feed went live or stopped being live).
   * @returns a function that unsubscribes.
   */
  subscribe(fn: (change: Change | 'reset') => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  /**
   * Starts listening (in the background; `live` once the LISTEN succeeded). After a lost
   * connection it tries again, 0.5 s doubling to 10 s. Does nothing without a `connect`.
   */
  start(): void {
    if (!this.#connect || this.#stopped || this.#disconnect || this.#retry) return;
    void this.#open();
  }

  /** Stops listening for good (shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#setLive(false);
    const disconnect = this.#disconnect;
    this.#disconnect = undefined;
    await disconnect?.().catch(() => undefined);
  }

  async #open(): Promise<void> {
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      this.#setLive(false);
      const disconnect = this.#disconnect;
      this.#disconnect = undefined;
      void disconnect?.().catch(() => undefined);
      this.#scheduleRetry();
    };
    try {
      const disconnect = await this.#connect!((payload) => this.#deliver(payload), onLost);
      if (this.#stopped || lost) {
        await disconnect().catch(() => undefined);
        return;
      }
      this.#disconnect = disconnect;
      this.#retryMs = 500;
      this.#setLive(true);
    } catch {
      onLost();
    }
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#open();
    }, this.#retryMs);
    this.#retry.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, 10_000);
  }

  #setLive(live: boolean): void {
    if (this.#live === live) return;
    this.#live = live;
    for (const fn of this.#subscribers) fn('reset');
  }

  #deliver(payload: string | undefined): void {
    const change = parseChange(payload);
    if (!change || change.schema !== this.#schema) return;
    for (const fn of this.#subscribers) fn(change);
  }
}

/**
 * A change feed over a PostgreSQL server: a dedicated `pg.Client` (outside the pool) that runs
 * `LISTEN producer_idp_changes`.
 */
export function postgresChangeFeed(connectionString: string, schema: string, connectTimeoutMs: number): ChangeFeed {
  return new ChangeFeed(schema, async (onChange, onLost) => {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true });
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (n) => { if (n.channel === CHANGE_CHANNEL) onChange(n.payload); });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      client.removeListener('end', onLost);
      await client.end().catch(() => undefined);
      throw err;
    }
    return async () => {
      client.removeListener('end', onLost);
      client.removeListener('error', onLost);
      client.on('error', () => undefined);
      await client.end();
    };
  });
}

/**
 * A cache of rows read from the database, kept exact by a {@link ChangeFeed}: an entry is dropped
 * when its row (or its table, key `*`) changes; everything is dropped when the feed resets; nothing
 * is served while the feed is not live. `maxAgeMs` bounds an entry's age all the same (milliseconds).
 * A load that overlaps a change of its key is returned but not kept.
 */
export class ReadCache<T> {
  readonly #feed: ChangeFeed;
  readonly #maxAgeMs: number;
  readonly #maxEntries: number;
  #entries = new Map<string, { value: T; at: number }>();
  #generation = 0;
  #keyGenerations = new Map<string, number>();

  /**
   * @param table the table whose changes drop entries (`oidc_payloads`, `terms`).
   * @param maxAgeMs the longest an entry is served, milliseconds.
   * @param maxEntries the most entries kept (the oldest go first).
   */
  constructor(feed: ChangeFeed, table: string, maxAgeMs: number, maxEntries = 1000) {
    this.#feed = feed;
    this.#maxAgeMs = maxAgeMs;
    this.#maxEntries = maxEntries;
    feed.subscribe((change) => {
      if (change === 'reset' || change.key === '*') {
        if (change === 'reset' || change.table === table) this.clear();
        return;
      }
      if (change.table !== table) return;
      this.#entries.delete(change.key);
      this.#keyGenerations.set(change.key, (this.#keyGenerations.get(change.key) ?? 0) + 1);
    });
  }

  /** Drops every entry (e.g. after this process changed rows itself). */
  clear(): void {
    this.#entries.clear();
    this.#keyGenerations.clear();
    this.#generation++;
  }

  /** Drops one entry. */
  delete(key: string): void {
    this.#entries.delete(key);
    this.#keyGenerations.set(key, (this.#keyGenerations.get(key) ?? 0) + 1);
  }

  /**
   * The value of `key`: from the cache when the feed is live and the entry is younger than
   * `maxAgeMs`, else from `load` (kept when no change of the key happened during the load).
   * Errors of `load` pass through and nothing is kept.
   */
  async get(key: string, load: () => Promise<T>): Promise<T> {
    if (!this.#feed.live) return load();
    const hit = this.#entries.get(key);
    if (hit && Date.now() - hit.at < this.#maxAgeMs) return hit.value;
    const generation = this.#generation;
    const keyGeneration = this.#keyGenerations.get(key) ?? 0;
    const value = await load();
    if (this.#feed.live && generation === this.#generation && keyGeneration === (this.#keyGenerations.get(key) ?? 0)) {
      if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(key, { value, at: Date.now() });
    }
    return value;
  }
}
