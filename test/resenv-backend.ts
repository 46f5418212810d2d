// A stand-in for a VM's research environment, on 127.0.0.1 at a free port: a page whose inline
// script opens a WebSocket back through the portal, a WebSocket echo, and a few paths that answer
// redirects, cookies and bodies. It records every request and upgrade it sees, so a test can check
// what reached "the VM" (and that some requests never did). `ws` comes with @fastify/http-proxy.
import { createRequire } from 'node:module';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface WsSocket {
  readonly protocol: string;
  on(event: 'message', listener: (data: Buffer, binary: boolean) => void): this;
  on(event: 'open' | 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'unexpected-response', listener: (req: unknown, res: http.IncomingMessage) => void): this;
  send(data: string): void;
  close(): void;
  terminate(): void;
}

interface WsModule {
  WebSocket: new (url: string, protocols?: string[], options?: { headers?: Record<string, string>; handshakeTimeout?: number }) => WsSocket;
  WebSocketServer: new (options: { noServer: true }) => {
    handleUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer, done: (ws: WsSocket) => void): void;
    close(): void;
    clients: Set<WsSocket>;
  };
}

export const ws = createRequire(import.meta.url)('ws') as WsModule;

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Backend {
  port: number;
  /** Plain HTTP requests, in order. */
  requests: Seen[];
  /** WebSocket upgrades, in order. */
  upgrades: Seen[];
  close(): Promise<void>;
}

/** The page: its inline script (the portal's own CSP would forbid it) talks to the echo. */
function page(url: string): string {
  return `<!doctype html><html><head><title>Test environment</title></head><body>
<h1>Research environment at ${url.replace(/[<>&"]/g, '')}</h1>
<p>WebSocket: <output id="ws">connecting</output></p>
<script>
  const socket = new WebSocket(new URL('socket', location.href).href.replace(/^http/, 'ws'));
  socket.onopen = () => socket.send('hello from the page');
  socket.onmessage = (e) => { document.getElementById('ws').textContent = e.data; };
  socket.onerror = () => { document.getElementById('ws').textContent = 'failed'; };
</script>
</body></html>`;
}

export async function startBackend(): Promise<Backend> {
  const requests: Seen[] = [];
  const upgrades: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '/').split('?')[0];
      if (path.endsWith('/echo')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, url: req.url, contentType: req.headers['content-type'] ?? null, body }));
      } else if (path.endsWith('/redirect')) {
        res.writeHead(302, { location: req.url?.includes('absolute') ? `http://127.0.0.1:${port()}${path.replace(/redirect$/, 'landed')}` : path.replace(/redirect$/, 'landed') });
        res.end();
      } else if (path.endsWith('/cookies')) {
        res.writeHead(200, {
          'content-type': 'text/plain',
          'set-cookie': ['env_token=abc; Path=/lab/; Domain=10.0.0.7; HttpOnly', 'simplevm_session=from-the-vm; Path=/', 'other=1'],
        });
        res.end('cookies');
      } else if (path.endsWith('/csp')) {
        res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': "default-src 'self' 'unsafe-inline'" });
        res.end('<p>own policy</p>');
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-backend': 'yes' });
        res.end(page(req.url ?? '/'));
      }
    });
  });
  const wss = new ws.WebSocketServer({ noServer: true });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
    wss.handleUpgrade(req, socket, head, (client) => {
      client.on('message', (data) => client.send(`echo:${data.toString()}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = () => (server.address() as AddressInfo).port;
  return {
    port: port(),
    requests,
    upgrades,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Opens a WebSocket and says how it went: the first message after sending `say`, or the refusal's status. */
export function tryWebSocket(url: string, headers: Record<string, string>, say = 'hi'): Promise<{ opened: boolean; reply?: string; status?: number }> {
  return new Promise((resolve) => {
    const socket = new ws.WebSocket(url, [], { headers, handshakeTimeout: 5000 });
    const done = (r: { opened: boolean; reply?: string; status?: number }) => {
      socket.terminate();
      resolve(r);
    };
    socket.on('open', () => socket.send(say));
    socket.on('message', (data) => done({ opened: true, reply: data.toString() }));
    socket.on('unexpected-response', (_req, res) => done({ opened: false, status: res.statusCode }));
    socket.on('error', () => done({ opened: false }));
  });
}
