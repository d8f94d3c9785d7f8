/**
 * Imported first by a peer that runs third-party servers (the LangGraph Agent Server): every
 * outgoing TCP connection and DNS lookup of the process must stay on the loopback interface.
 * Anything else is refused (the socket errors with ECONNREFUSED, the lookup with ENOTFOUND) and
 * reported on stderr as `LOOPBACK_ONLY blocked …`, so that a call home cannot slip by unnoticed.
 */
import dns from 'node:dns';
import net from 'node:net';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+|localhost)$/i;

export const blocked: string[] = [];

function refuse(what: string): Error {
  blocked.push(what);
  console.error(`LOOPBACK_ONLY blocked ${what}`);
  return Object.assign(new Error(`loopback-only: refused ${what}`), { code: 'ECONNREFUSED' });
}

type Connect = (this: net.Socket, ...args: unknown[]) => net.Socket;
const connect = net.Socket.prototype.connect as unknown as Connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  const first = args[0];
  let host: string | undefined;
  let port: unknown;
  if (Array.isArray(first)) {
    const options = first[0] as { host?: string; port?: unknown; path?: string } | undefined;
    host = options?.path ? undefined : (options?.host ?? 'localhost');
    port = options?.port;
  } else if (first && typeof first === 'object') {
    const options = first as { host?: string; port?: unknown; path?: string };
    host = options.path ? undefined : (options.host ?? 'localhost');
    port = options.port;
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    host = typeof args[1] === 'string' ? args[1] : 'localhost';
    port = first;
  }
  if (host !== undefined && !LOOPBACK.test(host)) {
    const error = refuse(`connect ${host}:${String(port)}`);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};

type Lookup = (hostname: string, ...rest: unknown[]) => unknown;
const lookup = dns.lookup as unknown as Lookup;
(dns as { lookup: Lookup }).lookup = function (hostname: string, ...rest: unknown[]) {
  if (!LOOPBACK.test(hostname)) {
    const callback = rest[rest.length - 1];
    const error = Object.assign(refuse(`dns ${hostname}`), { code: 'ENOTFOUND' });
    if (typeof callback === 'function') process.nextTick(() => (callback as (e: Error) => void)(error));
    return undefined;
  }
  return lookup.call(dns, hostname, ...rest);
};
const lookupPromise = dns.promises.lookup.bind(dns.promises);
(dns.promises as { lookup: unknown }).lookup = (hostname: string, ...rest: unknown[]) =>
  LOOPBACK.test(hostname)
    ? (lookupPromise as (h: string, ...r: unknown[]) => Promise<unknown>)(hostname, ...rest)
    : Promise.reject(Object.assign(refuse(`dns ${hostname}`), { code: 'ENOTFOUND' }));
