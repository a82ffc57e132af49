import Bowser from 'bowser';

/**
 * A browser in plain words for the account pages, from a `User-Agent` header (RFC 9110 §10.1.5),
 * e.g. "Chrome 139 on Linux", "Safari 17 on iOS", "Firefox 128 on Windows". Parsed with bowser;
 * a header it does not know gives "Unknown browser", none at all "Unknown browser" too.
 * @param userAgent the header as stored (may be null).
 */
export function describeBrowser(userAgent: string | null | undefined): string {
  if (!userAgent) return 'Unknown browser';
  const parsed = Bowser.getParser(userAgent.slice(0, 512));
  const name = parsed.getBrowserName();
  const version = (parsed.getBrowserVersion() ?? '').split('.')[0];
  const os = parsed.getOSName();
  if (!name) return 'Unknown browser';
  return `${name}${version ? ` ${version}` : ''}${os ? ` on ${os}` : ''}`;
}
