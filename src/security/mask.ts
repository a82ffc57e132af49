/**
 * Masks an email address as the guide shows it ("xxxname@email.com", slides 9-10): the first
 * characters of the local part are replaced with `x`, keeping at most the last 4 (never more than
 * half of it); the domain is shown.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return 'x'.repeat(Math.max(3, email.length));
  const local = email.slice(0, at);
  const keep = Math.min(4, Math.floor(local.length / 2));
  return 'x'.repeat(local.length - keep) + local.slice(local.length - keep) + email.slice(at);
}

/** Masks a phone number as the guide shows it ("xxxxxx0001"): only the last 4 digits remain. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return 'x'.repeat(Math.max(0, Math.min(6, digits.length - 4))) + digits.slice(-4);
}
