import { describe, expect, it } from 'vitest';
import { ChangeFeed, parseChange, ReadCache } from '../../src/db/change-feed.ts';

/**
 * The read cache of issue 12 (clients, Terms of Use): exact because it serves only while change
 * notifications arrive, and drops what changed. The feed here is the real ChangeFeed over a
 * connection function the test drives (what PostgreSQL's LISTEN would call).
 */
function controlledFeed(schema = 's1') {
  let deliver: (payload: string | undefined) => void = () => {};
  let lose: () => void = () => {};
  let connects = 0;
  const feed = new ChangeFeed(schema, async (onChange, onLost) => {
    connects++;
    deliver = onChange;
    lose = onLost;
    return async () => {};
  });
  return { feed, notify: (p: string) => deliver(p), lose: () => lose(), connects: () => connects };
}

const until = async (done: () => boolean) => {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('ReadCache over a ChangeFeed', () => {
  it('reads the database every time while the feed is not live (never started, as in the CLI)', async () => {
    const { feed } = controlledFeed();
    const cache = new ReadCache<number>(feed, 'terms', 60_000);
    let loads = 0;
    await cache.get('*', async () => ++loads);
    expect(await cache.get('*', async () => ++loads)).toBe(2);
  });

  it('serves from memory once live, and drops an entry when its row changes in this schema only', async () => {
    const { feed, notify } = controlledFeed('s1');
    feed.start();
    await until(() => feed.live);
    const cache = new ReadCache<string>(feed, 'oidc_payloads', 60_000);
    let version = 1;
    const load = async () => `v${version}`;
    expect(await cache.get('portal', load)).toBe('v1');
    version = 2;
    expect(await cache.get('portal', load)).toBe('v1'); // cached
    notify('s2 oidc_payloads portal'); // another schema: not ours
    notify('s1 terms *'); // another table
    expect(await cache.get('portal', load)).toBe('v1');
    notify('s1 oidc_payloads portal');
    expect(await cache.get('portal', load)).toBe('v2');
    await feed.stop();
  });

  it('drops everything and stops serving when the connection is lost; serves again after reconnecting', async () => {
    const { feed, lose, connects } = controlledFeed();
    feed.start();
    await until(() => feed.live);
    const cache = new ReadCache<number>(feed, 'terms', 60_000);
    let n = 0;
    await cache.get('*', async () => ++n);
    lose();
    expect(feed.live).toBe(false);
    expect(await cache.get('*', async () => ++n)).toBe(2); // not served while notifications may be missed
    await until(() => feed.live); // reconnects by itself (0.5 s)
    expect(connects()).toBe(2);
    expect(await cache.get('*', async () => ++n)).toBe(3); // the reset dropped the old entry
    expect(await cache.get('*', async () => ++n)).toBe(3);
    await feed.stop();
  });

  it('does not keep a value whose row changed while it was being read', async () => {
    const { feed, notify } = controlledFeed();
    feed.start();
    await until(() => feed.live);
    const cache = new ReadCache<string>(feed, 'oidc_payloads', 60_000);
    const first = await cache.get('c1', async () => {
      notify('s1 oidc_payloads c1'); // committed while the old row was on its way
      return 'old';
    });
    expect(first).toBe('old');
    expect(await cache.get('c1', async () => 'new')).toBe('new');
    await feed.stop();
  });

  it('bounds an entry by maxAgeMs', async () => {
    const { feed } = controlledFeed();
    feed.start();
    await until(() => feed.live);
    const cache = new ReadCache<number>(feed, 'terms', 1);
    let n = 0;
    await cache.get('*', async () => ++n);
    await new Promise((r) => setTimeout(r, 5));
    expect(await cache.get('*', async () => ++n)).toBe(2);
    await feed.stop();
  });

  it('parses `schema table key` payloads (keys may hold spaces) and refuses other shapes', () => {
    expect(parseChange('t_1 oidc_payloads my client')).toEqual({ schema: 't_1', table: 'oidc_payloads', key: 'my client' });
    expect(parseChange('t_1 terms')).toBeUndefined();
    expect(parseChange(undefined)).toBeUndefined();
  });
});
