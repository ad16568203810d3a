// The NCCL backend, for CUDA devices: NCCL and the CUDA runtime called through koffi (FFI).
// Training keeps gradients in host memory, so each call packs every buffer into one device
// buffer, reduces it there and copies it back. The 128-byte NCCL unique id travels from rank
// 0 over the rendezvous socket, which stays open for barrier() and to notice a peer that exits.
import { promisify } from 'node:util';
import { CollectiveError, type Collective, type WorldEnv } from './collective.js';
import { cpuOverLinks } from './cpu-backend.js';
import { CUDART, loadLibrary, NCCL } from './nccl-lib.js';
import { disconnected, rendezvous, withTimeout } from './rendezvous.js';

const NCCL_FLOAT32 = 7, NCCL_SUM = 0, NCCL_AVG = 4; // ncclDataType_t / ncclRedOp_t
const H2D = 1, D2H = 2; // cudaMemcpyKind
const ID_BYTES = 128;

type Fn = ((...a: any[]) => any) & { async: (...a: any[]) => void };

interface Api {
  koffi: any;
  cuda: Record<'setDevice' | 'malloc' | 'free' | 'toDevice' | 'toHost' | 'sync' | 'error', Fn>;
  nccl: Record<'version' | 'uniqueId' | 'initRank' | 'allReduce' | 'broadcast' | 'destroy' | 'abort' | 'error', Fn>;
  Id: unknown;
}

async function loadApi(): Promise<Api> {
  const koffi = (await import('koffi')).default as any;
  const cudart = loadLibrary(CUDART, (p) => koffi.load(p)).lib;
  const nccl = loadLibrary(NCCL, (p) => koffi.load(p)).lib;
  const Id = koffi.struct('ncclUniqueId', { internal: koffi.array('uint8_t', ID_BYTES, 'Typed') });
  koffi.opaque('ncclComm');
  return {
    koffi, Id,
    cuda: {
      setDevice: cudart.func('int cudaSetDevice(int device)'),
      malloc: cudart.func('int cudaMalloc(_Out_ uint64_t *ptr, size_t size)'),
      free: cudart.func('int cudaFree(uint64_t ptr)'),
      toDevice: cudart.func('cudaMemcpy', 'int', ['uint64_t', 'void *', 'size_t', 'int']),
      toHost: cudart.func('cudaMemcpy', 'int', ['void *', 'uint64_t', 'size_t', 'int']),
      sync: cudart.func('int cudaDeviceSynchronize()'),
      error: cudart.func('const char *cudaGetErrorString(int err)'),
    },
    nccl: {
      version: nccl.func('int ncclGetVersion(_Out_ int *version)'),
      uniqueId: nccl.func('int ncclGetUniqueId(_Out_ ncclUniqueId *id)'),
      initRank: nccl.func('int ncclCommInitRank(_Out_ ncclComm **comm, int nranks, ncclUniqueId id, int rank)'),
      allReduce: nccl.func('int ncclAllReduce(uint64_t send, uint64_t recv, size_t count, int type, int op, ncclComm *comm, void *stream)'),
      broadcast: nccl.func('int ncclBroadcast(uint64_t send, uint64_t recv, size_t count, int type, int root, ncclComm *comm, void *stream)'),
      destroy: nccl.func('int ncclCommDestroy(ncclComm *comm)'),
      abort: nccl.func('int ncclCommAbort(ncclComm *comm)'),
      error: nccl.func('const char *ncclGetErrorString(int result)'),
    },
  };
}

class NcclCollective implements Collective {
  readonly backend = 'nccl' as const;
  private dev = 0n;
  private devBytes = 0;
  private broken: Error | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly avg: boolean;

  constructor(readonly rank: number, readonly world: number, private readonly api: Api, private comm: unknown,
    private readonly cpu: Collective, private readonly timeoutMs: number, version: number) {
    this.avg = version >= 21000; // ncclAvg exists from NCCL 2.10
  }

  allReduceMean(buffers: Float32Array[]): Promise<void> {
    return this.run('allReduceMean', async () => {
      const n = this.upload(buffers);
      const { nccl } = this.api;
      this.check('nccl', nccl.allReduce(this.dev, this.dev, n, NCCL_FLOAT32, this.avg ? NCCL_AVG : NCCL_SUM, this.comm, null), 'ncclAllReduce');
      await this.sync();
      this.download(buffers);
      // ncclSum + the same division on every rank: identical results, as ncclAvg gives
      if (!this.avg) for (const b of buffers) for (let i = 0; i < b.length; i++) b[i] = b[i] / this.world;
    });
  }

  broadcast(buffers: Float32Array[]): Promise<void> {
    return this.run('broadcast', async () => {
      const n = this.upload(buffers, this.rank === 0);
      this.check('nccl', this.api.nccl.broadcast(this.dev, this.dev, n, NCCL_FLOAT32, 0, this.comm, null), 'ncclBroadcast');
      await this.sync();
      if (this.rank !== 0) this.download(buffers);
    });
  }

  barrier(): Promise<void> { return this.cpu.barrier(); }

  async close(): Promise<void> {
    await this.tail;
    if (this.comm) { this.api.nccl.destroy(this.comm); this.comm = null; }
    if (this.dev) { this.api.cuda.free(this.dev); this.dev = 0n; }
    await this.cpu.close();
  }

  /** A peer's socket closed: fail now and abort the communicator, which unblocks NCCL. */
  peerLost(rank: number): void {
    if (this.broken || !this.comm) return;
    this.broken = disconnected(rank);
    this.api.nccl.abort(this.comm);
    this.comm = null;
  }

  private run(name: string, body: () => Promise<void>): Promise<void> {
    const p = this.tail.then(() => {
      if (this.broken) throw this.broken;
      if (!this.comm) throw new CollectiveError(`data parallel: ${name} called after close()`);
      return withTimeout(body(), this.timeoutMs, () => {
        this.broken = new CollectiveError(`data parallel: ${name} timed out after ${this.timeoutMs / 1000} s on rank ${this.rank} (another rank stopped or fell behind; MINIMIND_DIST_TIMEOUT sets the limit in seconds)`);
        return this.broken;
      });
    });
    this.tail = p.catch(() => {});
    return p;
  }

  /** Copy the buffers back to back into the device buffer (grown as needed); returns the count. */
  private upload(buffers: Float32Array[], copy = true): number {
    const n = buffers.reduce((s, b) => s + b.length, 0);
    if (n * 4 > this.devBytes) {
      const { cuda } = this.api;
      if (this.dev) cuda.free(this.dev);
      const out = [0];
      this.check('cuda', cuda.malloc(out, n * 4), `cudaMalloc(${n * 4} bytes)`);
      this.dev = BigInt(out[0]);
      this.devBytes = n * 4;
    }
    if (copy) {
      let off = 0;
      for (const b of buffers) {
        if (b.length) this.check('cuda', this.api.cuda.toDevice(this.dev + BigInt(off), b, b.byteLength, H2D), 'cudaMemcpy to the device');
        off += b.byteLength;
      }
    }
    return n;
  }

  private download(buffers: Float32Array[]): void {
    let off = 0;
    for (const b of buffers) {
      if (b.length) this.check('cuda', this.api.cuda.toHost(b, this.dev + BigInt(off), b.byteLength, D2H), 'cudaMemcpy to the host');
      off += b.byteLength;
    }
  }

  /** Wait for the device on a worker thread, so timers and socket events still run. */
  private async sync(): Promise<void> {
    const code = await promisify(this.api.cuda.sync.async)() as number;
    if (this.broken) throw this.broken;
    this.check('cuda', code, 'cudaDeviceSynchronize');
  }

  private check(lib: 'cuda' | 'nccl', code: number, what: string): void {
    if (code === 0) return;
    const why = lib === 'cuda' ? this.api.cuda.error(code) : this.api.nccl.error(code);
    throw new CollectiveError(`data parallel (nccl): ${what} failed on rank ${this.rank}: ${why} (${lib} error ${code})`);
  }
}

export async function connectNccl(w: WorldEnv, timeoutMs: number): Promise<Collective> {
  const api = await loadApi();
  const fail = (what: string, code: number, lib: 'cuda' | 'nccl') => {
    const why = lib === 'cuda' ? api.cuda.error(code) : api.nccl.error(code);
    return new CollectiveError(`data parallel (nccl): ${what} failed on rank ${w.rank}: ${why} (${lib} error ${code})`);
  };
  let code = api.cuda.setDevice(w.localRank);
  if (code) throw fail(`cudaSetDevice(${w.localRank}) (LOCAL_RANK)`, code, 'cuda');
  const ver = [0];
  if ((code = api.nccl.version(ver))) throw fail('ncclGetVersion', code, 'nccl');
  let id = Buffer.alloc(ID_BYTES);
  if (w.rank === 0) {
    const out: { internal?: Uint8Array } = {};
    if ((code = api.nccl.uniqueId(out))) throw fail('ncclGetUniqueId', code, 'nccl');
    id = Buffer.from(out.internal!);
  }
  const { links, payload } = w.world === 1 ? { links: [], payload: id } : await rendezvous(w, timeoutMs, id);
  if (payload.length !== ID_BYTES) throw new CollectiveError(`data parallel (nccl): rank 0 sent a ${payload.length}-byte NCCL id (is it running with the cpu backend?)`);
  const comm = [null];
  // every rank blocks in ncclCommInitRank until all have joined: run it off the main thread
  const init = promisify(api.nccl.initRank.async) as (...a: unknown[]) => Promise<number>;
  code = await withTimeout(init(comm, w.world, { internal: new Uint8Array(payload) }, w.rank), timeoutMs,
    () => new CollectiveError(`data parallel (nccl): ncclCommInitRank timed out after ${timeoutMs / 1000} s on rank ${w.rank}`));
  if (code) throw fail('ncclCommInitRank', code, 'nccl');
  const c = new NcclCollective(w.rank, w.world, api, comm[0], cpuOverLinks(w, links, timeoutMs), timeoutMs, ver[0]);
  for (const l of links) l.sock.on('close', () => c.peerLost(l.rank));
  return c;
}
