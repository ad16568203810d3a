// GRPO and CISPO step as MiniMind-3's train_grpo.py does. The fixtures (test/fixtures/rl, made
// by scripts/fixtures/make_rl_fixtures.py) ran train_grpo.py on a tiny model with a stub
// rollout engine (fixed completions, old log-probs = the policy's plus fixed offsets, so the
// clip and clamp branches are taken) and a stub reward model: 3 batches of 2 prompts x 3
// generations, accumulation 2 (a short last group). Here the same prompts go through our
// rendering, the completions through our rewards (MiniMind's rules plus the stub's scores)
// and group advantages, and the shared loop trains our GrpoTrainee on them: every reward,
// micro-batch loss, learning rate, gradient norm and the final weights must agree.
//
// Tolerances (float32 on both sides; largest error measured over the three cases -> bound):
// rewards equal (float32 sums as calculate_rewards makes them) -> 1e-6; micro-batch losses
// 1.8e-6 of max(|loss|, 1) (a mean of advantage-sized terms; MoE, dense 3.1e-7) -> 5e-6; gradient norms 4.0e-7
// relative -> 1e-6; final weights ||ours - MiniMind|| / ||MiniMind - start|| 4.2e-5 (CISPO)
// -> 1.5e-4, every weight within 0.009 learning rates -> 0.03; the MoE case 1.9e-4 -> 6e-4
// and 0.051 learning rates -> 0.15: one expert that few tokens reach, where Adam's
// normalised update magnifies float32 noise in tiny gradients (1.2e-3 of that tensor's
// update; every other tensor < 1e-4). MINIMIND_SHOW_ERRORS=1 prints them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PromptBatches, promptText, readPrompts } from '../src/data/prompts.js';
import { groupAdvantages, repetitionPenalty, ruleReward } from '../src/train/rewards.js';
import { fixtureTokenizer, replayGrpo, RL, weightErrors } from './rl-helpers.js';
const TOL = { reward: 1e-6, loss: 5e-6, gradNorm: 1e-6, update: 1.5e-4, weight: 0.03 };
/** the MoE case's final weights (see the header) */
const MOE_TOL = { update: 6e-4, weight: 0.15 };

test("MiniMind's rule rewards (calculate_rewards: length, think format, 3-gram repetition) and the answer its reward model scores", () => {
  const { items } = JSON.parse(fs.readFileSync(path.join(RL, 'rules.json'), 'utf8')) as { items: { response: string; reward: number; answer_scored: string }[] };
  assert.ok(items.some((x) => x.response.includes('</think>')) && items.some((x) => x.reward < 0), 'the fixture covers think blocks and penalties');
  for (const x of items) {
    const r = ruleReward(x.response);
    assert.equal(r.reward, x.reward, `rules of ${JSON.stringify(x.response.slice(0, 40))}`);
    assert.equal(r.answer, x.answer_scored, `answer of ${JSON.stringify(x.response.slice(0, 40))}`);
  }
  assert.equal(repetitionPenalty('a b c a b c a b c'), 0.5);
  assert.equal(repetitionPenalty('one two'), 0);
});

test("prompts as RLAIFDataset renders them: conversations[:-1], a drawn system prompt, the thinking block open or closed", async () => {
  const { items } = JSON.parse(fs.readFileSync(path.join(RL, 'prompts.json'), 'utf8')) as { items: { index: number; system: number; thinking: boolean; text: string }[] };
  const { records } = await readPrompts([path.join(RL, 'data', 'rlaif_mixed.jsonl')], true);
  const p = new PromptBatches(records, 1, { seed: 0, systemPromptRatio: 0.2, thinkingRatio: 0.5 }), tok = fixtureTokenizer();
  assert.ok(items.some((x) => x.system >= 0) && items.some((x) => x.thinking) && items.some((x) => !x.thinking));
  for (const x of items) assert.equal(promptText(tok, p.withChoice(x.index, { system: x.system, thinking: x.thinking })), x.text, `record ${x.index}, system ${x.system}, thinking ${x.thinking}`);
  assert.deepEqual(records.map((r) => r.reference), ['5', 'Blue.', '很好。'], 'the last assistant turn is the reference, not the prompt');
  // MiniMind's draws per read, ours keyed on (seed, epoch, record): about 20% system prompts (never where the record has one), thinking_ratio open
  const many = new PromptBatches(Array.from({ length: 2000 }, () => records[0]), 1, { seed: 3, systemPromptRatio: 0.2, thinkingRatio: 0.9 });
  const draws = Array.from({ length: 2000 }, (_, i) => many.sample(i, 0).choice);
  const share = (f: (c: { system: number; thinking: boolean }) => boolean) => draws.filter(f).length / draws.length;
  assert.ok(Math.abs(share((c) => c.system >= 0) - 0.2) < 0.03 && Math.abs(share((c) => c.thinking) - 0.9) < 0.03, 'draw shares');
  assert.deepEqual(many.sample(7, 1).choice, many.sample(7, 1).choice, 'the same read draws the same');
  assert.equal(p.sample(1, 0).choice.system, -1, 'a conversation with a system message gets no other');
});

test('group advantages: (r - mean) / (std + 1e-4) per prompt, population std; failed samples get 0 and leave the statistics', () => {
  const a = groupAdvantages([1, 2, 3, 5, 5, 5], 3);
  const s = Math.sqrt(2 / 3);
  [(1 - 2) / (s + 1e-4), 0, (3 - 2) / (s + 1e-4), 0, 0, 0].forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-6, `${i}: ${a[i]} vs ${v}`));
  const b = groupAdvantages([1, NaN, 3], 3);
  assert.equal(b[1], 0);
  assert.ok(Math.abs(b[0] + 1 / (1 + 1e-4)) < 1e-6 && Math.abs(b[2] - 1 / (1 + 1e-4)) < 1e-6);
});

for (const name of ['grpo', 'cispo', 'grpo_moe']) {
  test(`${name}: MiniMind's prompts, rewards, micro-batch losses, learning rates, gradient norms and final weights`, async () => {
    const r = await replayGrpo(name, { threads: 1 }), { e } = r, h = e.hyper;
    const worst = { loss: 0, gradNorm: 0, update: 0, weight: 0 };
    e.steps.forEach((s, i) => {
      // a policy loss is a mean of advantage-sized terms (about 1): its error relative to that scale
      const err = Math.abs(r.seen[i].loss - s.micro_loss) / Math.max(Math.abs(s.micro_loss), 1);
      worst.loss = Math.max(worst.loss, err);
      assert.ok(err <= TOL.loss, `batch ${i + 1}: loss ${r.seen[i].loss} vs MiniMind ${s.micro_loss}`);
    });
    const m = r.metrics, ends = e.steps.filter((s) => s.grad_norm !== undefined);
    assert.equal(m.length, h.updates, 'optimizer steps');
    ends.forEach((s, i) => {
      assert.ok(Math.abs(m[i].lr - s.lr!) <= 1e-12, `step ${i + 1}: lr ${m[i].lr} vs ${s.lr} (CosineAnnealingLR, eta_min = lr/10)`);
      const err = Math.abs(m[i].grad_norm - s.grad_norm!) / s.grad_norm!;
      worst.gradNorm = Math.max(worst.gradNorm, err);
      assert.ok(err <= TOL.gradNorm, `step ${i + 1}: gradient norm ${m[i].grad_norm} vs MiniMind ${s.grad_norm}`);
    });
    assert.ok(ends.some((s) => s.grad_norm! > h.grad_clip), 'the fixture clips');
    Object.assign(worst, weightErrors(r, () => h.learning_rate));
    const tol = h.start === 'moe' ? MOE_TOL : TOL;
    assert.ok(worst.update < tol.update, `final weights: ${worst.update.toExponential(2)} of the update`);
    assert.ok(worst.weight < tol.weight, `final weights: ${worst.weight} learning rates`);
    if (process.env.MINIMIND_SHOW_ERRORS) console.log(`${name} worst relative errors: ${JSON.stringify(worst)}`);
  });
}
