import os from 'node:os';

/**
 * Threads of libuv's pool kept free of password hashing (file reads, ID-token signatures, DNS,
 * zlib): argon2 runs on the same pool, at most ARGON2_MAX_CONCURRENT at once (src/security/passwords.ts).
 */
export const THREADS_BESIDES_HASHING = 4;

/**
 * Sizes libuv's thread pool so that hashes never queue the other users of the pool (issue 12 item
 * 3): `UV_THREADPOOL_SIZE` = ARGON2_MAX_CONCURRENT (default: the CPU count) + {@link THREADS_BESIDES_HASHING},
 * unless the operator set UV_THREADPOOL_SIZE. Must run before anything uses the pool, so src/main.ts
 * imports this module first (ES modules run their imports in order). A malformed
 * ARGON2_MAX_CONCURRENT is left for configuration to report.
 * @returns the pool size in effect (threads).
 */
export function sizeThreadPool(env: NodeJS.ProcessEnv = process.env): number {
  if (env.UV_THREADPOOL_SIZE) return Number(env.UV_THREADPOOL_SIZE);
  const configured = Number(env.ARGON2_MAX_CONCURRENT);
  const hashing = Number.isInteger(configured) && configured >= 1 && configured <= 256 ? configured : os.availableParallelism();
  const size = Math.min(1024, hashing + THREADS_BESIDES_HASHING);
  env.UV_THREADPOOL_SIZE = String(size);
  return size;
}

sizeThreadPool();
