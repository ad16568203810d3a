// MiniMind's 5-dpo_train.py: the same as `minimind dpo-train` (node dist/scripts/5-dpo_train.js --help).
process.argv.splice(2, 0, 'dpo-train');
await import('../bin/minimind.js');
