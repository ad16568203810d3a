// MiniMind's train_ppo.py: the same as `minimind ppo` (node dist/scripts/8-train_ppo.js --help).
process.argv.splice(2, 0, 'ppo');
await import('../bin/minimind.js');
