// Load on `minimind serve`: the server runs as its own process on loopback; 1, 8 and 32
// concurrent streaming clients each send a fixed number of requests. Reports requests
// completed/failed, aggregate tokens/s, time to first token p50/p95 and the server's peak
// RSS. The soak variant (duration) keeps 32 clients busy, a third of which disconnect
// mid-stream, and samples the server's RSS.
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveModelDir } from '../io/model-dir.js';
import { MiniMindConfig } from '../model/config.js';
import { initParams } from '../model/params.js';
import { demoCorpus } from '../demo/corpus.js';
import { trainTokenizer } from '../tokenizer/train-corpus.js';
import { UserError } from '../util/errors.js';
import { machine } from './stats.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'minimind.js');

export interface ServeBenchOptions {
  loadFrom?: string; requests: number; maxTokens: number; levels: number[]; duration?: number;
  /** the levels take turns this many times (default 4), each with its share of the requests */
  rounds?: number;
  threads: number; quantize: string; log: (m: string) => void;
}

/** A model directory with random weights of config `c` and a tokenizer trained on the demo corpus. */
async function randomModelDir(c: MiniMindConfig): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minimind-bench-serve-'));
  const corpus = path.join(dir, 'corpus.jsonl');
  fs.writeFileSync(corpus, demoCorpus(7, 200, 10, 400).docs.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  await trainTokenizer([corpus], Math.min(c.vocab_size, 1000), path.join(dir, 'tok'), { progress: false });
  saveModelDir(path.join(dir, 'model'), c, initParams(c, 1), path.join(dir, 'tok'));
  return path.join(dir, 'model');
}

const pct = (xs: number[], p: number) => { if (!xs.length) return NaN; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

function rssKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try { return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN); } catch { return NaN; }
}

async function startServer(dir: string, o: ServeBenchOptions, maxBatch: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--load_from', dir, '--port', '0', '--max_batch', String(maxBatch), '--max_queue', '1024',
    '--threads', String(o.threads), '--quantize', o.quantize], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (b) => { err += b; const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(err); if (m) resolve(m[1]); });
    child.on('exit', (code) => reject(new UserError(`bench serve: the server exited (${code}): ${err.trim()}`)));
  });
  return { child, url };
}

interface One { ok: boolean; tokens: number; ttft: number }

/** One streaming chat request; `abortAfter` chunks, the client disconnects. */
async function request(url: string, maxTokens: number, i: number, abortAfter?: number): Promise<One> {
  const t0 = performance.now(), ac = new AbortController();
  let ttft = NaN, tokens = 0, chunks = 0;
  try {
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', signal: ac.signal, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: `Question ${i}: tell me about the weather in a long answer.` }], stream: true,
        stream_options: { include_usage: true }, max_tokens: maxTokens, ignore_eos: true, temperature: 0.8, seed: i }) });
    if (!res.ok) return { ok: false, tokens: 0, ttft };
    const dec = new TextDecoder();
    let buf = '', done = false;
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(part, { stream: true });
      let k;
      while ((k = buf.indexOf('\n\n')) >= 0) {
        const line = buf.slice(0, k); buf = buf.slice(k + 2);
        if (line === 'data: [DONE]') { done = true; continue; }
        const ch = JSON.parse(line.slice(6)) as { usage?: { completion_tokens: number }; choices: { delta: Record<string, unknown> }[]; error?: unknown };
        if (ch.error) return { ok: false, tokens, ttft };
        if (ch.usage) tokens = ch.usage.completion_tokens;
        else if (Number.isNaN(ttft) && ch.choices[0] && !('role' in ch.choices[0].delta)) ttft = (performance.now() - t0) / 1000;
        if (abortAfter !== undefined && ++chunks >= abortAfter) { ac.abort(); return { ok: true, tokens: chunks, ttft }; }
      }
    }
    return { ok: done, tokens, ttft };
  } catch (e) {
    return { ok: abortAfter !== undefined && (e as Error).name === 'AbortError', tokens, ttft };
  }
}

export async function benchServe(c: MiniMindConfig, o: ServeBenchOptions): Promise<Record<string, unknown>> {
  const dir = o.loadFrom ?? await randomModelDir(c);
  const maxLevel = Math.max(...o.levels);
  const { child, url } = await startServer(dir, o, maxLevel);
  try {
    await request(url, 4, 0); // warm-up
    if (o.duration) return { bench: 'serve-soak', ...(await soak(url, child.pid!, o)), ...machine() };
    // Levels take turns, `rounds` times, each with its share of the requests: this machine's
    // speed drifts over minutes, and levels run one after the other would each see a
    // different drift, which a ratio between levels would then carry.
    const rounds = Math.max(1, o.rounds ?? 4);
    const byLevel = new Map(o.levels.map((n) => [n, { results: [] as One[], seconds: 0 }]));
    for (let round = 0; round < rounds; round++) {
      for (const n of o.levels) {
        // whole waves of n: a last partial wave would run a smaller batch than the level's
        const count = n * Math.max(1, Math.round(o.requests / rounds / n)), lv = byLevel.get(n)!;
        let next = 0;
        const t0 = performance.now();
        await Promise.all(Array.from({ length: n }, async () => {
          while (next < count) { const i = next++; lv.results.push(await request(url, o.maxTokens, i)); }
        }));
        lv.seconds += (performance.now() - t0) / 1000;
      }
    }
    const levels = o.levels.map((n) => {
      const { results, seconds: s } = byLevel.get(n)!;
      const ok = results.filter((r) => r.ok), ttfts = ok.map((r) => r.ttft).filter((x) => !Number.isNaN(x));
      const row = { clients: n, completed: ok.length, failed: results.length - ok.length, seconds: +s.toFixed(2),
        tokens_per_s: +(ok.reduce((a, r) => a + r.tokens, 0) / s).toFixed(1), ttft_p50_s: +pct(ttfts, 0.5).toFixed(3), ttft_p95_s: +pct(ttfts, 0.95).toFixed(3),
        peak_rss_mb: +(rssKb(child.pid!, 'VmHWM') / 1024).toFixed(1) };
      o.log(JSON.stringify(row));
      return row;
    });
    const one = levels.find((l) => l.clients === 1)?.tokens_per_s as number | undefined, eight = levels.find((l) => l.clients === 8)?.tokens_per_s as number | undefined;
    return { bench: 'serve', requests_per_level: o.requests, rounds, max_tokens: o.maxTokens, levels,
      ...(one && eight ? { speedup_8_vs_1: +(eight / one).toFixed(2) } : {}), ...machine() };
  } finally {
    child.kill('SIGTERM');
    if (!o.loadFrom) fs.rmSync(path.dirname(dir), { recursive: true, force: true }); // the random model's temporary directory
  }
}

async function soak(url: string, pid: number, o: ServeBenchOptions): Promise<Record<string, unknown>> {
  const end = performance.now() + o.duration! * 1000, clients = Math.max(...o.levels);
  const samples: { t: number; rss_mb: number }[] = [];
  let completed = 0, failed = 0, disconnected = 0, i = 0;
  const t0 = performance.now();
  const timer = setInterval(() => { samples.push({ t: Math.round((performance.now() - t0) / 1000), rss_mb: +(rssKb(pid, 'VmRSS') / 1024).toFixed(1) }); }, 10_000);
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      const k = i++, drop = k % 3 === 0;
      const r = await request(url, o.maxTokens, k, drop ? 1 + (k % 7) : undefined);
      if (!r.ok) failed++; else if (drop) disconnected++; else completed++;
    }
  }));
  clearInterval(timer);
  const half = samples.slice(Math.floor(samples.length / 2)).map((s) => s.rss_mb);
  return { seconds: o.duration, clients, completed, failed, disconnected, rss_samples: samples,
    rss_second_half_min_mb: Math.min(...half), rss_second_half_max_mb: Math.max(...half), peak_rss_mb: +(rssKb(pid, 'VmHWM') / 1024).toFixed(1) };
}
