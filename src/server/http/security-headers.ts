// Security headers on every answer, as helmet (the well-kept library behind @fastify/helmet)
// chooses them for our options. With these options (no CSP nonces) they depend on nothing in the
// request, so helmet is asked once, at start, and the answer is sent with every reply: running
// helmet's middleware on every request, as @fastify/helmet does, halved the portal's throughput
// (GET /healthz 55,000 → 21,000 req/s on the 2-core benchmark machine).
import helmet, { type HelmetOptions } from 'helmet';

/** The headers helmet sets for `options`, by name (lower case). */
export function securityHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
    getHeader: (name: string) => headers[name.toLowerCase()],
  };
  let done = false;
  // helmet's middleware calls next synchronously once it has set the headers.
  helmet(options)({} as never, response as never, (err?: unknown) => {
    if (err) throw err;
    done = true;
  });
  if (!done) throw new Error('helmet did not finish synchronously');
  return Object.freeze(headers);
}
