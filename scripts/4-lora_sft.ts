// MiniMind's 4-lora_sft.py: the same as `minimind lora-sft` (node dist/scripts/4-lora_sft.js --help).
process.argv.splice(2, 0, 'lora-sft');
await import('../bin/minimind.js');
