// What keeps a local server out of other web pages' reach, and the API key:
// - the Host header must name the server (a DNS-rebinding page sends its own name);
// - a cross-origin request (an Origin that is not the server's own) is refused unless
//   --cors_origin names that origin, which then gets CORS headers and preflight answers;
// - the key is compared in constant time and taken only as "Authorization: Bearer <key>".
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';

export interface GuardOptions {
  apiKey?: string;
  /** Host names accepted besides the bound address's own; '*' accepts any */
  allowedHosts?: string[];
  /** origins (scheme://host[:port]) allowed to call the API from a browser; '*' allows any */
  corsOrigins?: string[];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The host name of a Host header (no port, no IPv6 brackets, lower case, no trailing dot). */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']')) : h.replace(/:\d*$/, '');
  return name.replace(/\.$/, '');
}

/** Names a server bound to `address` answers to: loopback's own names, or every interface's for a wildcard address. */
export function boundNames(address: string): string[] {
  const loop = ['localhost', '127.0.0.1', '::1'];
  if (address === '0.0.0.0' || address === '::') {
    const ifaces = Object.values(os.networkInterfaces()).flat().map((i) => i!.address.toLowerCase().replace(/%.*$/, ''));
    return [...loop, ...ifaces, os.hostname().toLowerCase()];
  }
  return address.startsWith('127.') || address === '::1' ? [...loop, address] : [address];
}

export class Guard {
  private key: Buffer | null;
  private names: Set<string> | null = null;
  private anyHost: boolean;
  private anyOrigin: boolean;
  private origins: Set<string>;
  private extraHosts: string[];

  constructor(o: GuardOptions, private address: () => AddressInfo | string | null) {
    this.key = o.apiKey ? digest(o.apiKey) : null;
    this.anyHost = (o.allowedHosts ?? []).includes('*');
    this.anyOrigin = (o.corsOrigins ?? []).includes('*');
    this.origins = new Set((o.corsOrigins ?? []).map((s) => s.replace(/\/+$/, '').toLowerCase()));
    this.extraHosts = (o.allowedHosts ?? []).map(hostName);
  }

  /** Whether the Host header names this server (absent: an HTTP/1.0 client, not a browser). */
  hostAllowed(host: string | undefined): boolean {
    if (this.anyHost || host === undefined) return true;
    if (!this.names) {
      const a = this.address();
      this.names = new Set([...(a && typeof a === 'object' ? boundNames(a.address) : []), ...this.extraHosts]);
    }
    return this.names.has(hostName(host));
  }

  /**
   * The request's Origin when it is another site's: null for same-origin and non-browser
   * requests (no Origin header). Same origin: the Origin's host equals the Host header.
   */
  crossOrigin(req: http.IncomingMessage): string | null {
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    let host: string | null = null;
    try { host = new URL(origin).host; } catch { /* "null" (a sandboxed frame, a file) or garbage: cross-origin */ }
    return host !== null && host.toLowerCase() === (req.headers.host ?? '').toLowerCase() ? null : origin;
  }

  originAllowed(origin: string): boolean {
    return this.anyOrigin || this.origins.has(origin.toLowerCase());
  }

  /** CORS headers for an allowed origin; a preflight also gets the methods and headers it may use. */
  corsHeaders(origin: string, preflight?: { methods: string[]; headers?: string }): Record<string, string> {
    const h: Record<string, string> = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    if (preflight) {
      h['Access-Control-Allow-Methods'] = preflight.methods.join(', ');
      h['Access-Control-Allow-Headers'] = preflight.headers ?? 'Authorization, Content-Type';
      h['Access-Control-Max-Age'] = '600';
    }
    return h;
  }

  get keyRequired(): boolean { return this.key !== null; }

  /** Whether "Authorization: Bearer <key>" carries the key (always, when none is set). */
  authorized(authorization: string | undefined): boolean {
    if (!this.key) return true;
    const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    return !!m && timingSafeEqual(digest(m[1]), this.key);
  }
}
