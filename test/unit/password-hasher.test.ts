import { describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/security/passwords.ts';

const params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

describe('PasswordHasher limits (issue 12)', () => {
  it('runs at most `concurrency` hashes at once; the rest wait in order and all complete correctly', async () => {
    const hasher = new PasswordHasher(params, { concurrency: 2, queueMax: 3 });
    const passwords = ['Qz7!kR9{mW', 'Xy8#pL2}nV', 'Ab3$cD4%eF', 'Gh5^jK6&mN', 'Pq7*rS8(tU'];
    const hashes = passwords.map((p) => hasher.hash(p));
    expect(hasher.waiting).toBe(3); // 2 running, 3 waiting
    expect(hasher.saturated).toBe(true);
    const phcs = await Promise.all(hashes);
    expect(hasher.waiting).toBe(0);
    expect(hasher.saturated).toBe(false);
    for (const [i, phc] of phcs.entries()) {
      expect(phc).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(await hasher.verify(phc, passwords[i]!)).toBe(true);
      expect(await hasher.verify(phc, 'Wrong!pass1')).toBe(false);
    }
  });

  it('frees the slot when a verification fails on a malformed hash', async () => {
    const hasher = new PasswordHasher(params, { concurrency: 1, queueMax: 1 });
    expect(await hasher.verify('not-a-phc', 'x')).toBe(false);
    expect(await hasher.verify(await hasher.hash('Qz7!kR9{mW'), 'Qz7!kR9{mW')).toBe(true);
    expect(hasher.waiting).toBe(0);
  });
});
