import { describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import { openPrivateJwk, sealPrivateJwk } from '../../src/oidc/keys.ts';

describe('private signing keys at rest (SIGNING_KEYS_ENCRYPTION_KEY)', () => {
  it('are stored AES-256-GCM encrypted, bound to their kid, and open only with the same secret', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'es256-test', alg: 'ES256', use: 'sig' };
    const secret = 'x'.repeat(40);
    const sealed = sealPrivateJwk(jwk, secret);
    expect(sealed.enc).toBe('A256GCM');
    expect(JSON.stringify(sealed)).not.toContain(jwk.d!);
    expect(openPrivateJwk(sealed, 'es256-test', secret)).toEqual(jwk);
    expect(() => openPrivateJwk(sealed, 'es256-test', 'y'.repeat(40))).toThrow(/SIGNING_KEYS_ENCRYPTION_KEY/);
    expect(() => openPrivateJwk(sealed, 'es256-other', secret)).toThrow(/cannot be decrypted/);
    expect(() => openPrivateJwk(sealed, 'es256-test', undefined)).toThrow(/set SIGNING_KEYS_ENCRYPTION_KEY/);
    // Without a secret (development) the JWK is kept as is.
    expect(sealPrivateJwk(jwk, undefined)).toEqual(jwk);
  });
});
