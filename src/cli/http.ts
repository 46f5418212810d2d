// How the client commands send their requests: the typed client's `fetch`, over node:http(s).
// Node's built-in fetch compiles its WebAssembly HTTP parser on first use, which made a one-shot
// command like `simplevm vm list` spend more time starting its first request than doing anything
// else (about 80 ms of 160, bench C1v); node:http parses in C. The typed client still builds a
// web Request and reads a web Response, and failures look as fetch's do (a TypeError with the
// cause, a TimeoutError), so nothing above this file knows the difference.
import http from 'node:http';
import https from 'node:https';

/** Redirects followed for GET and HEAD, as fetch would (a proxy that sends http:// to https://). */
const MAX_REDIRECTS = 5;

function send(url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, signal: AbortSignal): Promise<http.IncomingMessage & { body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Object.assign(res, { body: Buffer.concat(chunks) })));
      res.on('error', reject);
      // Cut off in the middle of the body (the time limit, the server gone): no 'end' will come.
      res.on('close', () => {
        if (!res.complete) reject(new Error('the connection closed before the answer was complete'));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A `fetch` for the typed client: whole bodies, a time limit for each request with its redirects. */
export function nodeFetch(timeoutMs: number): (input: Request) => Promise<Response> {
  return async (request) => {
    const signal = AbortSignal.timeout(timeoutMs);
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    if (body) headers['content-length'] = String(body.length);
    let url = new URL(request.url);
    for (let redirects = 0; ; redirects++) {
      let res: http.IncomingMessage & { body: Buffer };
      try {
        res = await send(url, request.method, headers, body, signal);
      } catch (err) {
        if (signal.aborted) throw new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError');
        throw new TypeError('fetch failed', { cause: err });
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location && (request.method === 'GET' || request.method === 'HEAD')) {
        if (redirects === MAX_REDIRECTS) throw new TypeError('fetch failed', { cause: new Error(`more than ${MAX_REDIRECTS} redirects`) });
        url = new URL(location, url);
        continue;
      }
      const answer = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) answer.append(name, v);
      }
      // A Response with one of these statuses must have no body.
      const empty = [204, 205, 304].includes(status) || request.method === 'HEAD';
      return new Response(empty ? null : new Uint8Array(res.body), { status, statusText: res.statusMessage, headers: answer });
    }
  };
}
