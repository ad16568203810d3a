// Python's str.strip/lstrip/rstrip(chars) in @huggingface/jinja, whose string methods
// (0.5.11) ignore the argument and strip all whitespace: MiniMind-3's template writes
// `content.lstrip('\n')`, which must keep a reply's leading spaces (an indented code
// answer) as transformers' Jinja does. Patched once, on the library's string value class.
import { Environment } from '@huggingface/jinja';

type Value = { value: unknown; type: string };
type Fn = new (f: (args: Value[]) => unknown) => unknown;

const trim = (s: string, chars: string, left: boolean, right: boolean): string => {
  let a = 0, b = s.length;
  if (left) while (a < b && chars.includes(s[a])) a++;
  if (right) while (b > a && chars.includes(s[b - 1])) b--;
  return s.slice(a, b);
};

let patched = false;
export function patchJinjaStrip(): void {
  if (patched) return;
  patched = true;
  const env = new Environment();
  env.set('s', '');
  const sample = env.lookupVariable('s') as unknown as Value & { builtins: Map<string, Value> };
  const proto = Object.getPrototypeOf(sample);
  const desc = Object.getOwnPropertyDescriptor(proto, 'builtins');
  if (!desc?.get || sample.type !== 'StringValue') return; // another version: leave it as it is
  const FunctionValue = sample.builtins.get('strip')!.constructor as Fn;
  const StringValue = proto.constructor as new (s: string) => Value;
  const done = new WeakSet<Map<string, Value>>();
  Object.defineProperty(proto, 'builtins', {
    configurable: true,
    get(this: Value) {
      const m = desc.get!.call(this) as Map<string, Value>;
      if (done.has(m)) return m;
      done.add(m);
      const s = this.value as string;
      for (const [name, left, right] of [['strip', true, true], ['lstrip', true, false], ['rstrip', false, true]] as const) {
        const plain = m.get(name)!;
        m.set(name, new FunctionValue((args: Value[]) => {
          const c = args[0];
          if (c && c.type === 'StringValue') return new StringValue(trim(s, c.value as string, left, right));
          return (plain as unknown as { value: (a: Value[]) => unknown }).value(args); // no chars (or None): whitespace
        }) as Value);
      }
      return m;
    },
  });
}
