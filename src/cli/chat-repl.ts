// The terminal chat loop shared by `eval` and `chat-api`: one line a message, /reset and /exit.
import readline from 'node:readline';
import chalk from 'chalk';

export async function chatRepl(greeting: string, answer: (q: string) => Promise<void>, reset: () => void): Promise<void> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  const ask = () => { if (process.stdin.isTTY) process.stdout.write(chalk.cyan('👶 ')); };
  if (process.stdin.isTTY) process.stdout.write(chalk.gray(`${greeting}; /reset clears the history, /exit quits\n`));
  ask();
  for await (const line of rl) {
    const q = line.trim();
    if (q === '/exit' || q === '/quit') break;
    if (q === '/reset') { reset(); process.stdout.write(chalk.gray('(history cleared)\n')); ask(); continue; }
    if (q) await answer(q);
    ask();
  }
  rl.close();
}
