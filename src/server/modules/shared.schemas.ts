// Schemas and helpers shared by the resource modules: pagination and id parameters.
import { type TSchema, Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';

export const MAX_PAGE_SIZE = 500;

export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, description: 'Page number, from 1.' })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 50, description: `Items per page, at most ${MAX_PAGE_SIZE}.` })),
};

export const Page = <T extends TSchema>(item: T, id: string) =>
  Type.Object(
    {
      count: Type.Integer({ description: 'Items in all pages.' }),
      next: Type.Union([Type.String(), Type.Null()], { description: 'URL of the next page, or null.' }),
      previous: Type.Union([Type.String(), Type.Null()], { description: 'URL of the previous page, or null.' }),
      results: Type.Array(item),
    },
    { $id: id },
  );

export interface PageOf<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Builds the `next`/`previous` links of a page from the request's own URL. */
export function pageOf<T>(request: FastifyRequest, results: T[], count: number, page: number, pageSize: number): PageOf<T> {
  const link = (p: number) => {
    const url = new URL(request.url, `${request.protocol}://${request.host}`);
    url.searchParams.set('page', String(p));
    url.searchParams.set('page_size', String(pageSize));
    return url.toString();
  };
  return {
    count,
    next: page * pageSize < count ? link(page + 1) : null,
    previous: page > 1 ? link(Math.min(page - 1, Math.max(1, Math.ceil(count / pageSize)))) : null,
    results,
  };
}

// No length limit here: an id that cannot exist is simply not found (404), never invalid (400).
export const OpenstackIdParams = Type.Object({
  openstack_id: Type.String({ minLength: 1, description: 'The object\'s OpenStack id.' }),
});

/** Whether a string can be an object id at all; anything else is not found without a query. */
export const isPlausibleId = (id: string): boolean => id.length <= 64 && !id.includes('\u0000');

export const ProjectIdParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'The project\'s id.' }),
});

/** Free-text names: bounded, no control characters. */
export const Name = (max: number, description: string) =>
  Type.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description });

export const Timestamp = Type.String({ format: 'date-time' });
