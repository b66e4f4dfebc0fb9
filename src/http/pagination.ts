/**
 * The admin API's pages as HTTP sees them: the `limit` and `cursor` query parameters (the keyset
 * paging itself is the store's: src/storage/pagination.ts).
 */
import { Type } from 'typebox';
export { pageRequest, encodeCursor, PAGE_DEFAULT, PAGE_MAX, type PageRequest, type Page } from '../storage/index.js';

export const pageQueryProperties = {
  limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]{0,2}|1000)$', description: '1 to 1000, default 100' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z0-9_-]+$', description: 'next_cursor of the previous page' })),
};
export const PageQuery = Type.Object(pageQueryProperties, { additionalProperties: false });

