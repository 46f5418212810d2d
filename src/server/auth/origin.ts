// Whether a request comes from a page of another site (login CSRF, issue 16). Browsers send
// `Origin` on every cross-origin POST and `Sec-Fetch-Site` on every request; scripts such as curl
// send neither, and are not what this guards against.

export interface OriginHeaders {
  origin?: string | string[];
  'sec-fetch-site'?: string | string[];
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * True when the browser says the request was made by another site: `Sec-Fetch-Site: cross-site`,
 * or an `Origin` (also `null`, which sandboxed and privacy-minded pages send) whose host is neither
 * the one the request was sent to (`host`) nor that of the portal's configured public address.
 */
export function isCrossSite(headers: OriginHeaders, host: string, publicUrl: string | null): boolean {
  if (first(headers['sec-fetch-site'])?.toLowerCase() === 'cross-site') return true;
  const origin = first(headers.origin);
  if (origin === undefined) return false;
  try {
    const from = new URL(origin);
    if (from.host === '') return true;
    // The request's host read as the Origin's scheme would write it (no default port), so that
    // `Host: localhost:80` matches `Origin: http://localhost`.
    const own = [new URL(`${from.protocol}//${host}`).host];
    if (publicUrl) own.push(new URL(publicUrl).host);
    return !own.includes(from.host);
  } catch {
    return true;
  }
}
