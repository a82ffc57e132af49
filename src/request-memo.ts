const reads = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * Reads something at most once per request (issue 12: the policy's checks, the grant loader and
 * `findAccount` of one authorization request share their database reads). `ctx` is the request's
 * context (the memo goes with it), `key` names what is read (e.g. `account:<id>`). A read that
 * fails is not remembered: a later call of the same request reads again. Only for requests that do
 * not change what they read before reading it again.
 * @returns the promise of the first call for `ctx` and `key`.
 */
export function oncePerRequest<T>(ctx: object, key: string, read: () => Promise<T>): Promise<T> {
  let forCtx = reads.get(ctx);
  if (!forCtx) reads.set(ctx, (forCtx = new Map()));
  let pending = forCtx.get(key) as Promise<T> | undefined;
  if (!pending) {
    pending = read();
    forCtx.set(key, pending);
    const memo = forCtx;
    pending.catch(() => memo.delete(key));
  }
  return pending;
}
