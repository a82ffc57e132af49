import type Provider from 'oidc-provider';
import { z } from 'zod';
import type { Config } from '../config/index.ts';

/** An interaction uid as oidc-provider makes them (checked before it is put in a link or looked up). */
export const INTERACTION_UID = /^[A-Za-z0-9_-]{1,64}$/;

/** The uid when `value` has the shape of an interaction uid, else undefined. */
export function interactionUidOf(value: unknown): string | undefined {
  return typeof value === 'string' && INTERACTION_UID.test(value) ? value : undefined;
}

/**
 * "Return to Log In" of the self-service pages: the live interaction's login page (with a notice
 * from a fixed list, see interactions/steps/login/credentials.ts), else the portal (PORTAL_URL).
 */
export async function loginUrl(provider: Provider, config: Pick<Config, 'PORTAL_URL'>, uid: unknown, notice?: 'password_changed' | 'unlocked'): Promise<string> {
  const id = interactionUidOf(uid);
  if (id && (await provider.Interaction.find(id))) return `/interaction/${id}${notice ? `?notice=${notice}` : ''}`;
  return config.PORTAL_URL;
}

/** The hidden `interaction` field of a flow's first form: the uid, or undefined when absent or malformed. */
export const interactionField = z.any().transform(interactionUidOf).optional();
