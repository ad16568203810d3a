// MiniMind's 1-pretrain.py: the same as `minimind pretrain` (node dist/scripts/1-pretrain.js --help).
process.argv.splice(2, 0, 'pretrain');
await import('../bin/minimind.js');
