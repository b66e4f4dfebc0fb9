/**
 * The session cookie, read and written through @fastify/cookie (registered for the whole app by
 * src/http/auth.ts). Behind TLS the name takes the `__Host-` prefix, which browsers accept only with
 * Secure, Path=/ and no Domain: a sibling subdomain cannot plant or overwrite it.
 */
import type { FastifyReply } from 'fastify';

export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-rivulet_session' : 'rivulet_session';
}

export function setSessionCookie(reply: FastifyReply, name: string, token: string, opts: { secure: boolean; maxAgeSeconds: number }): void {
  reply.setCookie(name, token, { path: '/', httpOnly: true, sameSite: 'strict', maxAge: opts.maxAgeSeconds, secure: opts.secure });
}

export function clearSessionCookie(reply: FastifyReply, name: string, secure: boolean): void {
  setSessionCookie(reply, name, '', { secure, maxAgeSeconds: 0 });
}
