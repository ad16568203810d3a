// The demo's own corpus: templated facts about fictional countries in English and Chinese,
// and small arithmetic. A country's capital follows a rule (its name + "ton" / + "城"), so
// a model that learned the rule completes facts about countries it never saw.
import { Rng } from '../util/rng.js';

const SYL = ['ka', 'lo', 'mi', 'ra', 'ten', 'vor', 'zu', 'bel', 'dan', 'fi', 'gor', 'hal', 'ji', 'kes', 'lum', 'nor', 'pa', 'qui', 'sar', 'tal', 'ul', 'vin', 'wes', 'yor'];
const ZH = ['卡', '洛', '米', '拉', '腾', '沃', '祖', '贝', '丹', '菲', '戈', '哈', '吉', '凯', '鲁', '诺', '帕', '奎', '萨', '塔', '乌', '文', '韦', '约'];
const COLORS = [['red', '红色'], ['blue', '蓝色'], ['green', '绿色'], ['yellow', '黄色'], ['white', '白色'], ['black', '黑色']];

export interface Country { en: string; zh: string; color: number }
export interface Probe { prompt: string; answer: string; distractors: string[] }

function country(rng: Rng): Country {
  const n = 2 + rng.int(2);
  const idx = Array.from({ length: n }, () => rng.int(SYL.length));
  const en = idx.map((i) => SYL[i]).join('');
  return { en: en[0].toUpperCase() + en.slice(1), zh: idx.map((i) => ZH[i]).join(''), color: rng.int(COLORS.length) };
}

const capitalEn = (c: Country) => `${c.en}ton`;
const capitalZh = (c: Country) => `${c.zh}城`;

function facts(c: Country, rng: Rng): string[] {
  const [colEn, colZh] = COLORS[c.color];
  const all = [
    `The capital of ${c.en} is ${capitalEn(c)}.`,
    `${capitalEn(c)} is the capital of ${c.en}.`,
    `People in ${c.en} love the color ${colEn}.`,
    `${c.zh}的首都是${capitalZh(c)}。`,
    `${capitalZh(c)}是${c.zh}的首都。`,
    `${c.zh}人喜欢${colZh}。`,
  ];
  return all.sort(() => rng.next() - 0.5);
}

function arithmetic(rng: Rng): string {
  const a = rng.int(10), b = rng.int(10);
  return rng.next() < 0.5 ? `${a} + ${b} = ${a + b}.` : `${a}加${b}等于${a + b}。`;
}

export interface ChatProbe { messages: { role: string; content: string }[]; answer: string; distractors: string[] }

const QUESTIONS: [(c: Country) => string, (c: Country) => string][] = [
  [(c) => `What is the capital of ${c.en}?`, (c) => `The capital of ${c.en} is ${capitalEn(c)}.`],
  [(c) => `Which city is the capital of ${c.en}?`, (c) => `${capitalEn(c)} is the capital of ${c.en}.`],
  [(c) => `${c.zh}的首都是哪里？`, (c) => `${c.zh}的首都是${capitalZh(c)}。`],
];

/** Documents for training, probes about held-out countries, and chat data for SFT. */
export function demoCorpus(seed = 7, trainCountries = 800, heldOut = 100, docs = 6000): { docs: string[]; probes: Probe[]; chats: { conversations: { role: string; content: string }[] }[]; chatProbes: ChatProbe[] } {
  const rng = new Rng(seed);
  const seen = new Set<string>();
  const countries: Country[] = [];
  while (countries.length < trainCountries + heldOut) {
    const c = country(rng);
    if (!seen.has(c.en)) { seen.add(c.en); countries.push(c); }
  }
  const train = countries.slice(0, trainCountries), test = countries.slice(trainCountries);
  const out: string[] = [];
  for (let d = 0; d < docs; d++) {
    const parts: string[] = [];
    for (let k = 0; k < 3; k++) parts.push(...facts(train[rng.int(train.length)], rng).slice(0, 2));
    parts.push(arithmetic(rng));
    out.push(parts.join(' '));
  }
  const probes: Probe[] = [];
  for (const c of test) {
    const others = () => { const o: Country[] = []; while (o.length < 3) { const x = test[rng.int(test.length)]; if (x !== c && !o.includes(x)) o.push(x); } return o; };
    probes.push({ prompt: `The capital of ${c.en} is`, answer: ` ${capitalEn(c)}.`, distractors: others().map((x) => ` ${capitalEn(x)}.`) });
    probes.push({ prompt: `${c.zh}的首都是`, answer: `${capitalZh(c)}。`, distractors: others().map((x) => `${capitalZh(x)}。`) });
  }
  const chats = train.flatMap((c) => QUESTIONS.map(([q, a]) => ({ conversations: [{ role: 'user', content: q(c) }, { role: 'assistant', content: a(c) }] })));
  const chatProbes = test.map((c, i) => {
    const [q, a] = QUESTIONS[i % QUESTIONS.length];
    const o: Country[] = [];
    while (o.length < 3) { const x = test[rng.int(test.length)]; if (x !== c && !o.includes(x)) o.push(x); }
    return { messages: [{ role: 'user', content: q(c) }], answer: a(c), distractors: o.map((x) => a({ ...x, en: c.en, zh: c.zh, color: 0 }).replace(capitalEn(c), capitalEn(x)).replace(capitalZh(c), capitalZh(x))) };
  });
  return { docs: out, probes, chats, chatProbes };
}
