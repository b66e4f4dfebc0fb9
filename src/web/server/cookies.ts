/**
 * The session cookie: read from the `Cookie` header and written as `Set-Cookie`. Hand-written
 * because the auth hook runs outside the dashboard's plugin scope, where a cookie plugin would not.
 * Behind TLS the name takes the `__Host-` prefix, which browsers accept only with Secure, Path=/
 * and no Domain: a sibling subdomain cannot plant or overwrite it.
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-rivulet_session' : 'rivulet_session';
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(name: string, token: string, opts: { secure: boolean; maxAgeSeconds: number }): string {
  const attrs = [`${name}=${token}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${opts.maxAgeSeconds}`];
  if (opts.secure) attrs.push('Secure');
  return attrs.join('; ');
}

export function clearedCookie(name: string, secure: boolean): string {
  return sessionCookie(name, '', { secure, maxAgeSeconds: 0 });
}
