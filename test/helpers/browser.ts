/**
 * A tiny cookie-keeping HTTP client over fetch (manual redirects), for journeys that cross the IdP
 * and the portal the way a browser does, without a browser.
 */
export class Agent {
  readonly jar = new Map<string, Map<string, string>>();

  #cookieHeader(url: URL): string {
    const jar = this.jar.get(url.host);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  #store(url: URL, res: Response): void {
    const set = res.headers.getSetCookie();
    if (!set.length) return;
    const jar = this.jar.get(url.host) ?? new Map<string, string>();
    for (const c of set) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
    this.jar.set(url.host, jar);
  }

  /** One request, no redirect following. */
  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; location: string | null; text: string; url: string; headers: Headers }> {
    const u = new URL(url);
    const headers: Record<string, string> = { cookie: this.#cookieHeader(u), 'user-agent': 'journey-test' };
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(u, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.#store(u, res);
    const location = res.headers.get('location');
    return { status: res.status, location: location ? new URL(location, u).href : null, text: await res.text(), url: u.href, headers: res.headers };
  }

  /** Follows redirects (at most 20) and returns the final response. */
  async follow(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    let res = await this.request(url, init);
    for (let i = 0; i < 20 && res.location && res.status >= 300 && res.status < 400; i++) res = await this.request(res.location);
    return res;
  }
}

/** The value of the hidden `_csrf` field of the (first) form in an HTML page. */
export function csrfOf(html: string): string {
  const m = html.match(/name="_csrf" value="([^"]+)"/);
  if (!m) throw new Error('no CSRF token in page');
  return m[1];
}

/** The `action` of the first form whose action matches `re`. */
export function formAction(html: string, re: RegExp): string {
  const all = [...html.matchAll(/<form[^>]*action="([^"]+)"/g)].map((m) => m[1]);
  const found = all.find((a) => re.test(a));
  if (!found) throw new Error(`no form matching ${re}; forms: ${all.join(', ')}`);
  return found.replace(/&amp;/g, '&');
}
