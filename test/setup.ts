// No outbound network in tests (STYLE §12): a connection to anything but this machine fails the test.
import net from 'node:net';

const LOCAL = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1', undefined, '']);
const originalConnect = net.Socket.prototype.connect;

net.Socket.prototype.connect = function connect(this: net.Socket, ...args: unknown[]) {
  const first = args[0] as { host?: string; path?: string } | number | string | unknown[];
  let host: string | undefined;
  if (Array.isArray(first)) host = (first[0] as { host?: string })?.host;
  else if (typeof first === 'object' && first !== null) host = (first as { path?: string }).path ? '127.0.0.1' : (first as { host?: string }).host;
  else if (typeof first === 'number') host = typeof args[1] === 'string' ? (args[1] as string) : undefined;
  else if (typeof first === 'string') host = '127.0.0.1'; // a unix socket path
  if (!LOCAL.has(host)) throw new Error(`test tried to reach ${host}: tests may not use the network`);
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
