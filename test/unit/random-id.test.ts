import { describe, expect, it } from 'vitest';
import { randomId } from '../../src/security/tokens.ts';

describe('randomId (ids an operator types on the command line)', () => {
  it('never starts with "-" or "_" (a leading "-" reads as an option), keeps 16 random bytes of base64url', () => {
    const ids = Array.from({ length: 3000 }, () => randomId(16));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Over 3000 draws about 94 would start with - or _ if nothing redrew them; the rest still varies.
    expect(new Set(ids.map((id) => id[0])).size).toBeGreaterThan(50);
    expect(() => randomId(8)).toThrow(RangeError);
  });
});
