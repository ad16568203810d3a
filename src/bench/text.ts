// Synthetic mixed Chinese/English text for benchmarks: sentences of common English words
// and of Chinese words (1-3 characters from a fixed set of common characters, drawn with
// a Zipf-like frequency), with digits and punctuation, so BPE has real structure to learn.
import fs from 'node:fs';
import { Rng } from '../util/rng.js';

const EN = ('the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there '
  + 'one all we their can has more if will would about time people into year only new some could them other than then now two may first '
  + 'model language train data learning network token text computer small large open source system research science history world city').split(' ');
const ZH_CHARS = '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区德怕记';
const PUNCT_EN = ['.', ',', '!', '?', ';'], PUNCT_ZH = ['。', '，', '！', '？', '；'];

function zipf(rng: Rng, n: number): number { return Math.min(n - 1, Math.floor(n * Math.pow(rng.next(), 2.2))); }

export function sentence(rng: Rng): string {
  if (rng.next() < 0.5) {
    const n = 5 + rng.int(15);
    const words = Array.from({ length: n }, () => (rng.next() < 0.05 ? String(rng.int(10000)) : EN[zipf(rng, EN.length)]));
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    return words.join(' ') + PUNCT_EN[rng.int(PUNCT_EN.length)];
  }
  const n = 4 + rng.int(12);
  let s = '';
  for (let i = 0; i < n; i++) {
    const len = 1 + rng.int(3);
    for (let k = 0; k < len; k++) s += ZH_CHARS[zipf(rng, ZH_CHARS.length)];
    if (rng.next() < 0.15) s += PUNCT_ZH[rng.int(PUNCT_ZH.length)];
  }
  return s + '。';
}

/** Write about `mb` megabytes of {"text": ...} JSONL (documents of a few sentences). */
export function writeCorpus(file: string, mb: number, seed = 1): void {
  const rng = new Rng(seed);
  const fd = fs.openSync(file, 'w');
  let bytes = 0, chunk: string[] = [];
  while (bytes < mb * 1e6) {
    const doc = Array.from({ length: 3 + rng.int(20) }, () => sentence(rng)).join(' ');
    const line = JSON.stringify({ text: doc }) + '\n';
    chunk.push(line);
    bytes += Buffer.byteLength(line);
    if (chunk.length >= 2000) { fs.writeSync(fd, chunk.join('')); chunk = []; }
  }
  fs.writeSync(fd, chunk.join(''));
  fs.closeSync(fd);
}
