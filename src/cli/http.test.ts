// The client commands' fetch over node:http against a local server: what fetch would answer, and
// failures shaped as fetch's (client-commands.ts maps them to exit statuses and sentences).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFetch } from './http.js';

let server: http.Server;
let base: string;
const seen: Array<{ method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url === '/json') return res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] }).end('{"ok":true}');
      if (req.url === '/echo') return res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ body, type: req.headers['content-type'] }));
      if (req.url === '/empty') return res.writeHead(204).end();
      if (req.url === '/moved') return res.writeHead(301, { location: '/json' }).end();
      if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
      if (req.url === '/error') return res.writeHead(409, { 'content-type': 'application/json' }).end('{"detail":"no","code":"invalid_state"}');
      if (req.url === '/cut') {
        res.writeHead(200, { 'content-length': '100' }).write('{"partial":');
        return setTimeout(() => res.destroy(), 20);
      }
      // /silent: never answers.
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const fetch = nodeFetch(5_000);

describe('nodeFetch', () => {
  it('answers a web Response: status, headers (repeated ones too) and body', async () => {
    const res = await fetch(new Request(`${base}/json`, { headers: { 'x-api-key': 'k', 'user-agent': 'simplevm-cli' } }));
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ ok: true });
    expect(seen.at(-1)?.headers).toMatchObject({ 'x-api-key': 'k', 'user-agent': 'simplevm-cli' });
  });

  it('sends the body of a POST with its type and length', async () => {
    const res = await fetch(new Request(`${base}/echo`, { method: 'POST', body: JSON.stringify({ name: 'vm-1' }), headers: { 'content-type': 'application/json' } }));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ body: '{"name":"vm-1"}', type: 'application/json' });
    expect(seen.at(-1)?.headers['content-length']).toBe('15');
  });

  it('an error status is an answer, and 204 has no body', async () => {
    const err = await fetch(new Request(`${base}/error`));
    expect({ status: err.status, ok: err.ok, body: await err.json() }).toEqual({ status: 409, ok: false, body: { detail: 'no', code: 'invalid_state' } });
    const empty = await fetch(new Request(`${base}/empty`, { method: 'DELETE' }));
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('follows redirects for GET, not for POST, and not for ever', async () => {
    expect(await (await fetch(new Request(`${base}/moved`))).json()).toEqual({ ok: true });
    expect((await fetch(new Request(`${base}/moved`, { method: 'POST', body: '{}' }))).status).toBe(301);
    await expect(fetch(new Request(`${base}/loop`))).rejects.toMatchObject({ name: 'TypeError', cause: { message: 'more than 5 redirects' } });
  });

  it('fails as fetch does: refused, too slow, cut off', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    await expect(fetch(new Request(`http://127.0.0.1:${closed}/`))).rejects.toMatchObject({ name: 'TypeError', cause: { code: 'ECONNREFUSED' } });
    await expect(nodeFetch(100)(new Request(`${base}/silent`))).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect(fetch(new Request(`${base}/cut`))).rejects.toMatchObject({ name: 'TypeError' });
  });
});
