// MiniMind's train_tokenizer.py: the same as `minimind train-tokenizer` (node dist/scripts/train_tokenizer.js --help).
process.argv.splice(2, 0, 'train-tokenizer');
await import('../bin/minimind.js');
