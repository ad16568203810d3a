// What the server needs from HTTP below its routes: JSON answers, request bodies read
// within a limit, URLs that may be malformed, and answers to requests Node's parser itself
// refuses (bad request lines, headers or bodies too slow). Malformed input always gets a
// 4xx in OpenAI's error shape, never a 500 or a stack trace.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from './requests.js';

/** The client went away (an aborted upload, a reset): nothing to answer, nothing to log. */
export class ClientGone extends Error {}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(s), ...extra });
  res.end(s);
}

/** The body as JSON, refused with 413 before reading when it is (or turns out) too large. */
export function readJson(req: http.IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new ApiError(413, `Request body of ${declared} bytes exceeds the limit of ${limit} bytes.`, null, 'request_too_large'));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0, over = false;
    req.on('data', (b: Buffer) => {
      if (over) return;
      size += b.length;
      if (size > limit) { over = true; parts.length = 0; reject(new ApiError(413, `Request body exceeds the limit of ${limit} bytes.`, null, 'request_too_large')); return; }
      parts.push(b);
    });
    req.on('error', () => reject(new ClientGone()));
    req.on('close', () => { if (!req.complete) reject(new ClientGone()); });
    req.on('end', () => {
      if (over) return;
      const text = Buffer.concat(parts).toString('utf8');
      let v: unknown;
      try { v = JSON.parse(text); } catch (e) {
        reject(new ApiError(400, `We could not parse the JSON body of your request: ${(e as Error).message}`, null, 'invalid_json')); return;
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) { reject(new ApiError(400, 'The request body must be a JSON object.', null, 'invalid_json')); return; }
      resolve(v as Record<string, unknown>);
    });
  });
}

/** A request target's path without trailing slashes; origin-form or absolute-form (proxies). */
export function requestPath(target: string | undefined): string {
  let url: URL;
  try { url = new URL(target ?? '/', 'http://localhost'); } catch { throw new ApiError(400, `Malformed request URL: ${JSON.stringify(target)}.`, null, 'invalid_url'); }
  return url.pathname.replace(/\/+$/, '') || '/';
}

/** A percent-encoded path segment, decoded. */
export function decodeSegment(s: string): string {
  try { return decodeURIComponent(s); } catch { throw new ApiError(400, `Malformed percent-encoding in the URL: ${JSON.stringify(s)}.`, null, 'invalid_url'); }
}

/** Whether a Content-Type header names JSON (parameters such as charset allowed). */
export function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === 'application/json';
}

const REASONS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'The request did not arrive in time (--header_timeout, --body_timeout).'],
  HPE_HEADER_OVERFLOW: [431, 'The request headers are too large.'],
};

/**
 * Node's 'clientError': a request its parser refused, or one that did not arrive in time.
 * Answered in OpenAI's shape where the socket can still take an answer, then closed.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const sent = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (err.code === 'ECONNRESET' || !socket.writable || sent) { socket.destroy(); return; }
  const [status, message] = REASONS[err.code ?? ''] ?? [400, `Malformed HTTP request (${err.code ?? err.message}).`];
  const body = JSON.stringify(new ApiError(status, message, null, status === 408 ? 'request_timeout' : 'invalid_request').body);
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
