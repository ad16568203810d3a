// Log-probabilities through the API, as evaluation harnesses read them. The requests are
// the exact shapes lm-evaluation-harness's `local-completions` and `local-chat-completions`
// send (lm_eval/models/openai_completions.py: _create_payload, parse_logprobs,
// parse_generations), the answers are checked against the model's own log-softmax, and a
// multiple-choice set scored through the API equals our `ceval` scorer on it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChoiceScorer } from '../src/eval/choice-scorer.js';
import { Question } from '../src/eval/mcq-data.js';
import { scoreMcq } from '../src/eval/mcq-run.js';
import { letterIds, promptIds } from '../src/eval/prompt.js';
import { loadModelDir } from '../src/io/model-dir.js';
import { DecodeRunner } from '../src/model/decode-runner.js';
import { Params } from '../src/model/params.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { request, Running, startServer, TinyModel, tinyModelDir } from './serve-helpers.js';

interface CompletionLogprobs { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[]; text_offset: number[] }
interface Completion { choices: { index: number; text: string; logprobs: CompletionLogprobs | null; finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } }
interface ChatEntry { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number; bytes: number[] }[] }
interface Chat { choices: { index: number; message: { content: string }; logprobs: { content: ChatEntry[] } | null; finish_reason: string }[]; usage: { completion_tokens: number } }

let m: TinyModel, s: Running, tok: MiniTokenizer, params: Params, ref: DecodeRunner;
before(async () => {
  m = await tinyModelDir();
  s = await startServer(m);
  tok = MiniTokenizer.load(m.dir);
  params = loadModelDir(m.dir).params;
  ref = await DecodeRunner.create(m.config, params, { threads: 1 }, { allLogits: true });
});
after(async () => { await s.close(); await ref.release(); });

async function post<T>(path: string, body: unknown): Promise<T> {
  const r = await request(s.url, 'POST', path, { 'Content-Type': 'application/json' }, JSON.stringify(body));
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as T;
}

/** The model's log-softmax at every position of `ids` (row t predicts token t+1), in float64. */
async function logSoftmax(ids: number[]): Promise<Float64Array[]> {
  const V = m.config.vocab_size, z = await ref.run(ids, ref.emptyCache());
  return ids.map((_, t) => {
    const row = z.subarray(t * V, (t + 1) * V);
    let mx = -Infinity, sum = 0;
    for (const v of row) mx = Math.max(mx, v);
    for (const v of row) sum += Math.exp(v - mx);
    return Float64Array.from(row, (v) => v - mx - Math.log(sum));
  });
}

/** lm-eval's parse_logprobs: sum(token_logprobs[ctxlen:-1]), greedy when each equals the max of its top_logprobs. */
function parseLogprobs(out: Completion, ctxlens: number[]): [number, boolean][] {
  return [...out.choices].sort((a, b) => a.index - b.index).map((c, i) => {
    const lps = c.logprobs!.token_logprobs.slice(ctxlens[i], -1) as number[], tops = c.logprobs!.top_logprobs.slice(ctxlens[i], -1);
    return [lps.reduce((a, b) => a + b, 0), lps.every((lp, j) => lp === Math.max(...Object.values(tops[j]!)))];
  });
}

/** lm-eval's loglikelihood request (tokenized; a batch of context+continuation token lists). */
const loglikelihoodPayload = (prompts: number[][]) => ({ model: 'tiny', prompt: prompts, temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true });

test('local-completions loglikelihood: token-id prompts in a batch, echo, logprobs 1, max_tokens 1; lm-eval\'s reading equals the model\'s', async () => {
  const ctx = await tok.encode('The cat sat on the'), conts = [await tok.encode(' mat'), await tok.encode(' moon and the stars')];
  const prompts = conts.map((c) => [...ctx, ...c]);
  const out = await post<Completion>('/v1/completions', loglikelihoodPayload(prompts));
  assert.deepEqual(out.choices.map((c) => c.index), [0, 1]);
  const parsed = parseLogprobs(out, prompts.map(() => ctx.length));
  for (const [i, p] of prompts.entries()) {
    const lp = out.choices[i].logprobs!;
    assert.equal(lp.tokens.length, p.length + 1, 'the prompt\'s tokens, then the generated one');
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.top_logprobs[0], null);
    const want = await logSoftmax(p);
    for (let t = 1; t < p.length; t++) {
      assert.ok(Math.abs(lp.token_logprobs[t]! - want[t - 1][p[t]]) < 1e-4, `prompt ${i} token ${t}: ${lp.token_logprobs[t]} vs ${want[t - 1][p[t]]}`);
      const top = lp.top_logprobs[t]!;
      assert.ok(Object.keys(top).length <= 2, 'the top alternative and the token itself');
      assert.equal(top[lp.tokens[t]], lp.token_logprobs[t], 'the token is in its own map');
    }
    const sum = conts[i].reduce((a, id, j) => a + want[ctx.length - 1 + j][id], 0);
    assert.ok(Math.abs(parsed[i][0] - sum) < 1e-4, `sum ${parsed[i][0]} vs ${sum}`);
    const greedy = conts[i].every((id, j) => { const row = want[ctx.length - 1 + j].subarray(0, tok.vocabSize); return row[id] === Math.max(...row); });
    assert.equal(parsed[i][1], greedy, `is_greedy of prompt ${i}`);
    assert.equal(out.usage.prompt_tokens, prompts[0].length + prompts[1].length);
  }
  // a continuation that is the model's own greedy choice reads as greedy
  const want = await logSoftmax(ctx), row = want[ctx.length - 1].subarray(0, tok.vocabSize);
  const best = row.indexOf(Math.max(...row));
  const [[, isGreedy]] = parseLogprobs(await post<Completion>('/v1/completions', loglikelihoodPayload([[...ctx, best]])), [ctx.length]);
  assert.equal(isGreedy, true);
});

test('local-completions generate_until and local-chat-completions: the payloads they send, the fields they read', async () => {
  const ids = [await tok.encode('Once upon a time'), await tok.encode('The dog')];
  // generate_until, tokenized: a batch of token lists, `until` plus the EOS string as stop
  const gen = { model: 'tiny', max_tokens: 8, temperature: 0, stop: ['\n\n', 'Question:', tok.eosToken], seed: 1234 };
  const batch = await post<Completion>('/v1/completions', { ...gen, prompt: ids });
  const texts = batch.choices.sort((a, b) => a.index - b.index).map((c) => c.text);
  for (const [i, p] of ids.entries()) {
    const one = await post<Completion>('/v1/completions', { ...gen, prompt: [p] });
    assert.equal(texts[i], one.choices[0].text, `prompt ${i} alone and in a batch`);
    assert.ok(['stop', 'length'].includes(one.choices[0].finish_reason));
  }
  assert.ok(batch.usage.completion_tokens <= 16);
  // local-chat-completions: messages, at most 4 stop strings
  const chat = await post<Chat>('/v1/chat/completions', { messages: [{ role: 'user', content: 'Say hi' }], model: 'tiny', max_tokens: 8, temperature: 0, stop: ['\n\n', tok.eosToken], seed: 1234 });
  assert.equal(typeof chat.choices[0].message.content, 'string');
  assert.equal(chat.choices[0].index, 0);
  // lm-eval's stop lists can pass OpenAI's 4
  const many = await post<Completion>('/v1/completions', { ...gen, prompt: 'x', stop: ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'] });
  assert.equal(many.choices.length, 1);
});

test('chat logprobs and top_logprobs: OpenAI\'s shape, the model\'s values, streamed as not', async () => {
  const body = { messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 3, ignore_eos: true };
  const r = await post<Chat>('/v1/chat/completions', body);
  const entries = r.choices[0].logprobs!.content;
  assert.equal(entries.length, r.usage.completion_tokens);
  const prompt = await tok.encode(tok.applyChatTemplate(body.messages, { addGenerationPrompt: true, open_thinking: false, enable_thinking: false }));
  // greedy: each token is its position's most likely one, and the first of its alternatives
  const ids: number[] = [];
  for (const [i, e] of entries.entries()) {
    const rows = await logSoftmax([...prompt, ...ids]), row = rows[rows.length - 1], sub = row.subarray(0, tok.vocabSize), id = sub.indexOf(Math.max(...sub));
    assert.ok(Math.abs(e.logprob - row[id]) < 1e-4, `token ${i}: ${e.logprob} vs ${row[id]}`);
    assert.equal(e.top_logprobs.length, 3);
    assert.equal(e.top_logprobs[0].logprob, e.logprob);
    assert.ok(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob && e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob);
    // a whole character's token is its text; part of one is written as its bytes
    assert.equal(e.token, e.token.startsWith('bytes:') ? `bytes:${e.bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}` : Buffer.from(e.bytes).toString('utf8'));
    ids.push(id);
  }
  // the tokens' bytes make the answer's text
  const text = Buffer.concat(entries.map((e) => Buffer.from(e.bytes))).toString('utf8');
  assert.equal(text, await tok.decode(ids));
  // streamed: the same entries, spread over the chunks
  const raw = (await request(s.url, 'POST', '/v1/chat/completions', { 'Content-Type': 'application/json' }, JSON.stringify({ ...body, stream: true }))).body;
  const streamed = raw.split('\n\n').filter((l) => l.startsWith('data: {')).flatMap((l) => (JSON.parse(l.slice(6)) as { choices: { logprobs: { content: ChatEntry[] } | null }[] }).choices[0]?.logprobs?.content ?? []);
  assert.deepEqual(streamed, entries);
});

test('completions echo with a text prompt: BOS first (null), offsets into the returned text; max_tokens 0 scores only', async () => {
  const prompt = 'hello there, world';
  const r = await post<Completion>('/v1/completions', { prompt, echo: true, logprobs: 2, max_tokens: 3, temperature: 0, ignore_eos: true });
  const c = r.choices[0], lp = c.logprobs!;
  assert.ok(c.text.startsWith(prompt), 'the text starts with the prompt');
  const ids = [tok.bosId, ...(await tok.encode(prompt))];
  assert.equal(lp.tokens.length, ids.length + 3);
  assert.equal(lp.tokens[0], tok.bosToken);
  assert.deepEqual([lp.token_logprobs[0], lp.top_logprobs[0], lp.text_offset[0]], [null, null, 0]);
  for (let i = 1; i < lp.tokens.length; i++) {
    assert.ok(lp.text_offset[i] >= lp.text_offset[i - 1], 'offsets never go back');
    if (!lp.tokens[i].startsWith('bytes:')) assert.ok([...c.text].slice(lp.text_offset[i]).join('').startsWith(lp.tokens[i]), `token ${i} ${JSON.stringify(lp.tokens[i])} at ${lp.text_offset[i]}`);
    assert.ok(Object.keys(lp.top_logprobs[i]!).length <= 3);
  }
  const want = await logSoftmax(ids);
  for (let t = 1; t < ids.length; t++) assert.ok(Math.abs(lp.token_logprobs[t]! - want[t - 1][ids[t]]) < 1e-4);
  // scoring only
  const only = await post<Completion>('/v1/completions', { prompt, echo: true, logprobs: 0, max_tokens: 0 });
  assert.equal(only.choices[0].text, prompt);
  assert.equal(only.choices[0].logprobs!.tokens.length, ids.length);
  assert.deepEqual(only.choices[0].logprobs!.token_logprobs, lp.token_logprobs.slice(0, ids.length));
  assert.equal(only.usage.completion_tokens, 0);
  assert.equal(only.choices[0].finish_reason, 'length');
  // streamed echo: the prompt comes first
  const raw = (await request(s.url, 'POST', '/v1/completions', { 'Content-Type': 'application/json' }, JSON.stringify({ prompt, echo: true, max_tokens: 2, stream: true }))).body;
  const first = JSON.parse(raw.split('\n\n')[0].slice(6)) as Completion;
  assert.equal(first.choices[0].text, prompt);
  // echo without logprobs, token ids: the decoded prompt
  const ids2 = await post<Completion>('/v1/completions', { prompt: ids.slice(1), echo: true, max_tokens: 0 });
  assert.equal(ids2.choices[0].text, prompt);
  assert.equal(ids2.choices[0].logprobs, null);
});

test('logprobs requests that cannot be answered get 400s naming the field', async () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], top_logprobs: 2 }, 'top_logprobs'],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }, 'max_tokens'],
    ['/v1/completions', { prompt: 'x', logprobs: 21 }, 'logprobs'],
    ['/v1/completions', { prompt: 'x', logprobs: true }, 'logprobs'],
    ['/v1/completions', { prompt: 'x', max_tokens: 0 }, 'max_tokens'],
    ['/v1/completions', { prompt: [1, 2, m.config.vocab_size] }, 'prompt'],
    ['/v1/completions', { prompt: [[1, 2], [3, -1]] }, 'prompt[1]'],
    ['/v1/completions', { prompt: [[1, 2], []] }, 'prompt[1]'],
    ['/v1/completions', { prompt: [1.5] }, 'prompt'],
    ['/v1/completions', { prompt: [] }, 'prompt'],
    ['/v1/completions', { prompt: [{}] }, 'prompt'],
    ['/v1/completions', { prompt: [['x']] }, 'prompt[0]'],
    ['/v1/completions', { prompt: Array(300).fill(5) }, 'prompt'],
  ];
  for (const [path, body, param] of cases) {
    const r = await request(s.url, 'POST', path, { 'Content-Type': 'application/json' }, JSON.stringify(body));
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
    assert.equal((JSON.parse(r.body) as { error: { param: string } }).error.param, param, JSON.stringify(body));
  }
});

test('vLLM\'s tokenizer routes, which lm-eval probes to use the server\'s tokenizer', async () => {
  const info = JSON.parse((await request(s.url, 'GET', '/tokenizer_info')).body) as Record<string, unknown>;
  assert.equal(info.eos_token, tok.eosToken);
  const t = await post<{ tokens: number[]; count: number }>('/tokenize', { prompt: 'hello world', add_special_tokens: false });
  assert.deepEqual(t.tokens, await tok.encode('hello world'));
  assert.equal(t.count, t.tokens.length);
  assert.deepEqual((await post<{ tokens: number[] }>('/tokenize', { prompt: 'hello' })).tokens, [tok.bosId, ...(await tok.encode('hello'))], 'as /v1/completions sees a text prompt');
  assert.equal((await post<{ prompt: string }>('/detokenize', { tokens: t.tokens })).prompt, 'hello world');
  assert.equal((await request(s.url, 'POST', '/detokenize', { 'Content-Type': 'application/json' }, '{"tokens": [1e9]}')).status, 400);
});

test('a multiple-choice set scored through the API gives our ceval scorer\'s choices and log-likelihoods', async () => {
  const subjects = ['Which animal says moo? ', 'What is two plus two? ', 'Where does the sun rise? ', 'What colour is the sky? ', 'Which is a fruit? ', 'Who wrote this test? '];
  const questions: Question[] = subjects.map((q, i) => ({ subject: 'demo', id: String(i), question: q, options: ['a cow', 'four', 'the east', 'apple'], answer: 'A', file: 'demo.csv', line: i + 2 }));
  const letters = await letterIds(tok);
  const scorer = await ChoiceScorer.create(m.config, params, letters, { threads: 1 });
  const { results } = await scoreMcq(tok, scorer, questions, () => [], { prompt: 'chat', maxLen: m.config.max_position_embeddings - 1 });
  await scorer.release();
  const ctxs = await promptIds(tok, questions, () => [], 'chat', m.config.max_position_embeddings - 1);
  let decisive = 0;
  for (const [i, ctx] of ctxs.entries()) {
    // lm-eval: one request per question, the four continuations as a batch
    const out = await post<Completion>('/v1/completions', loglikelihoodPayload(letters.map((l) => [...ctx, l])));
    const api = parseLogprobs(out, letters.map(() => ctx.length)).map(([lp]) => lp);
    const ours = results[i].probs.map(Math.log);
    api.forEach((lp, k) => assert.ok(Math.abs(lp - ours[k]) < 1e-4, `question ${i} choice ${k}: API ${lp} vs ceval ${ours[k]}`));
    const sorted = [...ours].sort((a, b) => b - a);
    if (sorted[0] - sorted[1] > 2e-4) { decisive++; assert.equal('ABCD'[api.indexOf(Math.max(...api))], results[i].choice, `question ${i}`); }
  }
  assert.ok(decisive >= questions.length / 2, `${decisive} questions with a clear choice`);
});
