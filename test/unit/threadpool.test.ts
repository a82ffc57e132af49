import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { sizeThreadPool, THREADS_BESIDES_HASHING } from '../../src/threadpool.ts';

describe('libuv thread pool size (issue 12 item 3)', () => {
  it('keeps 4 threads besides the hashes allowed at once, unless the operator set UV_THREADPOOL_SIZE', () => {
    const env: NodeJS.ProcessEnv = { ARGON2_MAX_CONCURRENT: '3' };
    expect(sizeThreadPool(env)).toBe(3 + THREADS_BESIDES_HASHING);
    expect(env.UV_THREADPOOL_SIZE).toBe('7');
    const byCpu: NodeJS.ProcessEnv = {};
    expect(sizeThreadPool(byCpu)).toBe(os.availableParallelism() + 4);
    const set: NodeJS.ProcessEnv = { UV_THREADPOOL_SIZE: '16', ARGON2_MAX_CONCURRENT: '3' };
    expect(sizeThreadPool(set)).toBe(16);
    const bad: NodeJS.ProcessEnv = { ARGON2_MAX_CONCURRENT: 'lots' };
    expect(sizeThreadPool(bad)).toBe(os.availableParallelism() + 4);
  });
});
