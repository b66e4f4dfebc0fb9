/**
 * Where a Mixpanel connection's queries go (docs/reference/mixpanel-apis.md §1): the real query host of the
 * project's data residency by default, or an explicit `base_url`, which is how the emulator (or a
 * proxy) is chosen. A base URL must be plain http(s) with no credentials, query or fragment, so a
 * stored connection can only ever address an HTTP origin and path prefix.
 */
export const REGIONS = ['US', 'EU', 'IN'] as const;
export type Region = (typeof REGIONS)[number];

export const QUERY_HOSTS: Readonly<Record<Region, string>> = {
  US: 'https://mixpanel.com',
  EU: 'https://eu.mixpanel.com',
  IN: 'https://in.mixpanel.com',
};

/** The normalised base URL (no trailing slash), or an error message naming what is wrong. */
export function checkBaseUrl(raw: string): { ok: true; url: string } | { ok: false; error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, error: 'base_url must be an absolute http:// or https:// URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: 'base_url must use http or https' };
  if (url.username || url.password) return { ok: false, error: 'base_url must not carry credentials' };
  if (url.search || url.hash) return { ok: false, error: 'base_url must not have a query or fragment' };
  return { ok: true, url: `${url.origin}${url.pathname.replace(/\/+$/, '')}` };
}

export function queryHost(region: Region, baseUrl: string | null): string {
  return baseUrl ?? QUERY_HOSTS[region];
}
