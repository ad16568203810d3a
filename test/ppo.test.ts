// PPO steps as MiniMind-3's train_ppo.py does. The fixtures (test/fixtures/rl, made by
// scripts/fixtures/make_rl_fixtures.py) ran train_ppo.py on a tiny model with a stub rollout
// engine and reward model: 2 batches of 3 prompts, minibatches of 2 (so 2 and 1), 2 passes
// per batch, actor and critic each with its own AdamW and cosine schedule. `ppo` runs every
// pass; `ppo_stop` crosses --early_stop_kl at its first minibatch, so MiniMind zeroes the
// pass's losses (its optimizers still step) and skips the second pass. Here our rewards, the
// critic's values, GAE, the whitened advantages and our PpoTrainee's minibatch updates (in
// MiniMind's recorded minibatch orders) must give every minibatch's loss, each update's
// gradient norms and learning rates of actor and critic, and the final actor and critic.
//
// Tolerances (float32 on both sides; the largest error measured -> the bound asserted):
// minibatch losses 8.6e-7 of max(|loss|, 1) -> 5e-6; gradient norms 2.2e-6 relative -> 5e-6;
// learning rates equal -> 1e-12; final weights ||ours - MiniMind|| / ||MiniMind - start||
// 2.3e-5 -> 1.5e-4, every weight within 0.015 learning rates -> 0.03 (ppo_stop: equal).
// MINIMIND_SHOW_ERRORS=1 prints them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CRITIC } from '../src/train/ppo-trainee.js';
import { replayPpo, weightErrors } from './rl-helpers.js';

const TOL = { loss: 5e-6, gradNorm: 5e-6, lr: 1e-12, update: 1.5e-4, weight: 0.03 };

for (const name of ['ppo', 'ppo_stop']) {
  test(`${name}: MiniMind's rewards, minibatch losses, gradient norms and learning rates of actor and critic, final actor and critic`, async () => {
    const r = await replayPpo(name, { threads: 1 }), { e } = r, h = e.hyper;
    assert.equal(r.updatesPerStep * e.steps.length, h.updates_per_batch * e.steps.length, "the schedule's span: MiniMind's total_optimizer_steps");
    const worst = { loss: 0, gradNorm: 0, update: 0, weight: 0 };
    const rel = (got: number, want: number, scale = Math.abs(want)) => Math.abs(got - want) / Math.max(scale, 1e-6);
    e.steps.forEach((s, b) => {
      const t = r.traces[b];
      assert.equal(t.losses.length, s.losses.length, `batch ${b + 1}: minibatches run (passes ${s.orders.length})`);
      s.losses.forEach((want, i) => {
        const err = rel(t.losses[i], want, Math.max(Math.abs(want), 1));
        worst.loss = Math.max(worst.loss, err);
        assert.ok(err <= TOL.loss, `batch ${b + 1} minibatch ${i + 1}: loss ${t.losses[i]} vs MiniMind ${want}`);
      });
      assert.equal(t.updates.length, s.updates.length, `batch ${b + 1}: updates`);
      s.updates.forEach((want, i) => {
        const got = t.updates[i];
        assert.ok(Math.abs(got.actorLr - want.actor_lr) <= TOL.lr && Math.abs(got.criticLr - want.critic_lr) <= TOL.lr,
          `batch ${b + 1} update ${i + 1}: lrs ${got.actorLr}, ${got.criticLr} vs ${want.actor_lr}, ${want.critic_lr}`);
        for (const [g, w, what] of [[got.actorNorm, want.actor_norm, 'actor'], [got.criticNorm, want.critic_norm, 'critic']] as const) {
          // a stopped minibatch's gradient is 0 on both sides
          const err = w === 0 ? Math.abs(g) : rel(g, w);
          worst.gradNorm = Math.max(worst.gradNorm, err);
          assert.ok(err <= TOL.gradNorm, `batch ${b + 1} update ${i + 1}: ${what} gradient norm ${g} vs MiniMind ${w}`);
        }
      });
    });
    if (name === 'ppo_stop') assert.ok(e.steps.every((s) => s.orders.length === 1 && s.losses.every((l) => l === 0)), 'the fixture stops at its first minibatch');
    else assert.ok(e.steps.every((s) => s.orders.length === h.ppo_update_iters) && e.steps.some((s) => s.updates.some((u) => u.actor_norm > h.grad_clip)), 'every pass runs and some clip');
    assert.equal(r.trained.size, r.theirs.size, 'actor and critic weights');
    Object.assign(worst, weightErrors(r, (k) => (k.startsWith(CRITIC) ? h.critic_learning_rate : h.learning_rate)));
    assert.ok(worst.update < TOL.update, `final weights: ${worst.update.toExponential(2)} of the update`);
    assert.ok(worst.weight < TOL.weight, `final weights: ${worst.weight} learning rates`);
    if (process.env.MINIMIND_SHOW_ERRORS) console.log(`${name} worst relative errors: ${JSON.stringify(worst)}`);
  });
}
