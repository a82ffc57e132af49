import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A random URL-safe secret from node:crypto.
 * @param bytes entropy in bytes (default 32 = 256 bits; never below 16 = 128 bits).
 * @returns base64url text of `bytes` random bytes.
 */
export function randomToken(bytes = 32): string {
  if (bytes < 16) throw new RangeError('a secret token needs at least 16 bytes');
  return randomBytes(bytes).toString('base64url');
}

/**
 * A random identifier (`bytes` random bytes, base64url) that an operator can type as a command-line
 * argument: it never starts with `-` or `_` (a leading `-` reads as an option: `clients rotate-secret
 * -z…` failed), so the first character is drawn again until it is a letter or digit.
 * @throws RangeError for fewer than 16 bytes.
 */
export function randomId(bytes = 16): string {
  for (;;) {
    const id = randomToken(bytes);
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

/** SHA-256 of a high-entropy token, hex. Used to store tokens that must never be kept in clear. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** HMAC-SHA256 of `value` under `key`, base64url. */
export function hmac(key: string, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('base64url');
}

/** Constant-time equality of two strings (false when lengths differ, without early exit on content). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}
