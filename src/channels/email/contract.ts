/**
 * The contract of the routes a recipient's mail client reaches: none answers JSON on success (a
 * GIF, a redirect, an HTML page or an empty 200), so the schemas document those bodies for
 * `/openapi.json`; an invalid token answers the shared error body (or an HTML page on `GET /u/…`).
 * Imports TypeBox only.
 */
import { Type } from 'typebox';

export const OpenPixel = Type.String({ description: 'image/gif: a transparent 1×1 GIF' });
export const ClickRedirect = Type.Null({ description: '302 to the original link (Location header)' });
export const UnsubscribePage = Type.String({ description: 'text/html: the page whose button confirms the unsubscribe' });
export const UnsubscribeDone = Type.String({ description: 'empty for a one-click (RFC 8058) unsubscribe; text/html confirmation page otherwise' });
