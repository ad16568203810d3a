// The TCP rendezvous: rank 0 listens on MASTER_ADDR:MASTER_PORT, every other rank connects
// (retrying until rank 0 is up) and says who it is; once all are there rank 0 answers each
// with a payload (the NCCL unique id, or nothing). The sockets stay open for the CPU backend.
import net from 'node:net';
import { CollectiveError, type WorldEnv } from './collective.js';
import { MAGIC_HELLO, MAGIC_WELCOME, SocketReader, writeAll } from './wire.js';

export interface Link { rank: number; sock: net.Socket; reader: SocketReader }
export interface Links { links: Link[]; payload: Buffer }

const RETRY_MS = 100;

export function disconnected(rank: number): CollectiveError {
  return new CollectiveError(`data parallel: rank ${rank} disconnected (did it exit?)`);
}

export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function link(rank: number, sock: net.Socket): Link {
  sock.setNoDelay(true);
  const reader = new SocketReader(sock);
  sock.on('error', () => {}); // 'close' follows and says which rank
  sock.on('close', () => reader.fail(disconnected(rank)));
  return { rank, sock, reader };
}

function welcome(ok: boolean, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(MAGIC_WELCOME, 0);
  h.writeUInt32LE(ok ? 0 : 1, 4);
  h.writeUInt32LE(payload.length, 8);
  return Buffer.concat([h, payload]);
}

/** Rank 0: wait for every other rank, then send each `payload`. */
function serve(w: WorldEnv, timeoutMs: number, payload: Buffer): Promise<Links> {
  const where = `${w.masterAddr}:${w.masterPort}`;
  const links = new Map<number, Link>();
  const server = net.createServer();
  const done = new Promise<Links>((resolve, reject) => {
    server.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use (choose another MASTER_PORT)' : e.message;
      reject(new CollectiveError(`data parallel: rank 0 cannot listen on ${where}: ${why}`));
    });
    server.on('connection', (sock) => {
      const l = link(-1, sock);
      const refuse = (why: string) => { void writeAll(sock, welcome(false, Buffer.from(why))).finally(() => sock.end()); };
      l.reader.read(16).then((b) => {
        if (b.readUInt32LE(0) !== MAGIC_HELLO) { sock.destroy(); return; } // not one of ours
        const rank = b.readUInt32LE(4), world = b.readUInt32LE(8);
        if (world !== w.world) return refuse(`data parallel: WORLD_SIZE is ${world} on this rank but ${w.world} on rank 0`);
        if (rank < 1 || rank >= w.world) return refuse(`data parallel: RANK ${rank} is out of range for WORLD_SIZE ${w.world}`);
        if (links.has(rank)) return refuse(`data parallel: two processes claim RANK ${rank}`);
        sock.removeAllListeners('close');
        const r = { ...l, rank };
        sock.on('close', () => { r.reader.fail(disconnected(rank)); if (links.size < w.world - 1) links.delete(rank); });
        links.set(rank, r);
        if (links.size === w.world - 1) {
          server.close();
          const all = [...links.values()].sort((a, b) => a.rank - b.rank);
          Promise.all(all.map((x) => writeAll(x.sock, welcome(true, payload)))).then(() => resolve({ links: all, payload }), reject);
        }
      }, () => sock.destroy());
    });
    server.listen(w.masterPort, w.masterAddr);
  });
  return withTimeout(done, timeoutMs, () => {
    const missing = Array.from({ length: w.world - 1 }, (_, i) => i + 1).filter((r) => !links.has(r));
    return new CollectiveError(`data parallel: rendezvous on ${where} timed out after ${timeoutMs / 1000} s: rank ${missing.join(', ')} of WORLD_SIZE ${w.world} did not connect`);
  }).catch((e) => {
    server.close();
    for (const l of links.values()) l.sock.destroy();
    throw e;
  });
}

function dial(addr: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, addr);
    sock.once('connect', () => { sock.removeAllListeners('error'); resolve(sock); });
    sock.once('error', reject);
  });
}

/** Other ranks: connect to rank 0 (retrying while it starts), introduce, await the welcome. */
async function join(w: WorldEnv, timeoutMs: number): Promise<Links> {
  const where = `${w.masterAddr}:${w.masterPort}`;
  const deadline = Date.now() + timeoutMs;
  let sock: net.Socket | null = null;
  let last = '';
  while (!sock) {
    try {
      sock = await dial(w.masterAddr, w.masterPort);
    } catch (e) {
      last = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      if (Date.now() + RETRY_MS > deadline) {
        throw new CollectiveError(`data parallel: rank ${w.rank} could not reach rank 0 at ${where} within ${timeoutMs / 1000} s (${last}; is rank 0 running with the same MASTER_ADDR/MASTER_PORT?)`);
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
  const l = link(0, sock);
  const hello = Buffer.alloc(16);
  hello.writeUInt32LE(MAGIC_HELLO, 0);
  hello.writeUInt32LE(w.rank, 4);
  hello.writeUInt32LE(w.world, 8);
  const answer = (async () => {
    await writeAll(sock, hello);
    const h = await l.reader.read(12);
    if (h.readUInt32LE(0) !== MAGIC_WELCOME) throw new CollectiveError(`data parallel: ${where} is not a minimind rank 0`);
    const payload = await l.reader.read(h.readUInt32LE(8));
    if (h.readUInt32LE(4) !== 0) throw new CollectiveError(payload.toString());
    return { links: [l], payload };
  })();
  return withTimeout(answer, Math.max(1, deadline - Date.now()), () =>
    new CollectiveError(`data parallel: rendezvous on ${where} timed out after ${timeoutMs / 1000} s: rank 0 did not hear from every rank`))
    .catch((e) => { sock.destroy(); throw e; });
}

export function rendezvous(w: WorldEnv, timeoutMs: number, payload: Buffer = Buffer.alloc(0)): Promise<Links> {
  return w.rank === 0 ? serve(w, timeoutMs, payload) : join(w, timeoutMs);
}
