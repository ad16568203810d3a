// MiniMind's 0-eval_pretrain.py: the same as `minimind eval-pretrain` (node dist/scripts/0-eval_pretrain.js --help).
process.argv.splice(2, 0, 'eval-pretrain');
await import('../bin/minimind.js');
