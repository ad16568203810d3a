// What the GRPO and PPO tests share: MiniMind's recorded batches (test/fixtures/rl, made by
// scripts/fixtures/make_rl_fixtures.py from train_grpo.py and train_ppo.py) turned into our
// rollouts and rewards, and a reward source that replays the stub reward model's scores.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PromptBatches, promptIds, promptText, readPrompts } from '../src/data/prompts.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { computeRewards, ScoreSource } from '../src/train/rewards.js';
import { RolloutRow } from '../src/train/rollout.js';
import { ROOT } from './helpers.js';

export const RL = path.join(ROOT, 'test', 'fixtures', 'rl');
export const TRAJ = path.join(ROOT, 'test', 'fixtures', 'trajectory');
export const fixtureTokenizer = () => MiniTokenizer.load(path.join(TRAJ, 'tokenizer'));

export interface Scored { messages: { role: string; content: string }[]; answer: string; score: number }
export interface RecordedBatch {
  samples: { index: number; prompt: string }[];
  prompt_ids: number[][];
  /** per rollout row: the completion up to and including its first eos */
  completions: number[][];
  old_logps: number[][];
  rewards: number[];
  scored: Scored[];
}

export const expectedOf = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(RL, name, 'expected.json'), 'utf8'));

/** A score source that returns what MiniMind's stub reward model answered, checking it is asked the same (messages, answer). */
export function replayScores(scored: Scored[]): ScoreSource {
  return {
    name: 'replay',
    score: async (samples) => samples.map((s, i) => {
      assert.deepEqual(s.messages.map((m) => ({ role: m.role, content: m.content })), scored[i].messages, `sample ${i}: the reward model's messages`);
      assert.equal(s.answer, scored[i].answer, `sample ${i}: the answer the reward model scores`);
      return { score: scored[i].score };
    }),
  };
}

/**
 * One recorded batch as ours: its prompts rendered and tokenized by our code (checked
 * against MiniMind's), its rollouts, and its rewards computed by our rules with the stub's
 * scores (checked against calculate_rewards).
 */
export async function replayBatch(tok: MiniTokenizer, s: RecordedBatch): Promise<{ rows: RolloutRow[]; rewards: number[] }> {
  const { records } = await readPrompts([path.join(RL, 'data', 'rlaif.jsonl')], true);
  const prompts = new PromptBatches(records, 1, { seed: 0, systemPromptRatio: 0.2, thinkingRatio: 1 });
  const G = s.completions.length / s.samples.length;
  const samples = s.samples.map((x) => prompts.withChoice(x.index, { system: -1, thinking: true })); // every record has a system message; thinking_ratio 1
  const ids = await Promise.all(samples.map(async (p, j) => {
    assert.equal(promptText(tok, p), s.samples[j].prompt, `record ${s.samples[j].index}: prompt text`);
    const got = await promptIds(tok, p, 256);
    assert.deepEqual(got, s.prompt_ids[j], `record ${s.samples[j].index}: prompt ids`);
    return got;
  }));
  const rows: RolloutRow[] = s.completions.map((c, i) => ({ prompt: ids[Math.floor(i / G)], completion: c, logps: s.old_logps[i], mask: c.map(() => 1), stopped: c.at(-1) === tok.eosId }));
  const texts = await Promise.all(rows.map((r) => tok.decode(r.completion, true)));
  const r = await computeRewards({ rules: true, source: replayScores(s.scored) },
    rows.map((_, i) => ({ messages: samples[Math.floor(i / G)].messages, response: texts[i], reference: samples[Math.floor(i / G)].record.reference })));
  r.rewards.forEach((v, i) => assert.ok(Math.abs(v - s.rewards[i]) < 1e-6, `sample ${i}: reward ${v} vs calculate_rewards ${s.rewards[i]}`));
  return { rows, rewards: r.rewards };
}
