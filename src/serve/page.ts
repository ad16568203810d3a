// The chat page served at `/`: one HTML file, its script and style, and the Markdown
// renderer (marked) and sanitiser (DOMPurify) from node_modules, so it works offline.
// The page keeps the conversation in localStorage, streams answers over SSE from
// /v1/chat/completions, shows reasoning collapsed, and fits a phone-width screen. The page's
// files are public; when the server asks for an API key, the page asks the user for it and
// sends it as a header (kept in sessionStorage, or localStorage with "remember"), never in a URL.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface Asset { type: string; body: Buffer }

const HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MiniMind chat</title>
<link rel="stylesheet" href="static/app.css">
</head>
<body>
<header>
  <h1>MiniMind</h1>
  <span id="model"></span>
  <button id="settings-toggle" type="button" aria-expanded="false">Settings</button>
  <button id="clear" type="button">New chat</button>
</header>
<section id="login" hidden>
  <form id="key-form">
    <label>API key <input id="key" type="password" autocomplete="current-password" required></label>
    <label class="check"><input id="remember" type="checkbox"> Remember on this device</label>
    <button id="unlock" type="submit">Unlock</button>
    <span id="key-error" class="error" role="alert"></span>
  </form>
</section>
<section id="settings" hidden>
  <label>System prompt <textarea id="system" rows="2" placeholder="You are a helpful assistant."></textarea></label>
  <div class="row">
    <label>Temperature <input id="temperature" type="number" min="0" max="2" step="0.05" value="0.7"></label>
    <label>Top p <input id="top_p" type="number" min="0" max="1" step="0.01" value="0.92"></label>
    <label>Max tokens <input id="max_tokens" type="number" min="1" step="1" value="512"></label>
    <label class="check"><input id="thinking" type="checkbox"> Thinking</label>
  </div>
</section>
<main id="log" aria-live="polite"></main>
<form id="ask">
  <textarea id="input" rows="2" placeholder="Ask something… (Enter sends, Shift+Enter for a new line)" required></textarea>
  <button id="send" type="submit">Send</button>
  <button id="stop" type="button" hidden>Stop</button>
</form>
<script type="module" src="static/app.js"></script>
</body>
</html>
`;

const CSS = String.raw`
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: #f6f7f9; color: #1d2330; display: flex; flex-direction: column; max-width: 860px; margin: 0 auto; }
header { display: flex; gap: 8px; align-items: center; padding: 8px 12px; border-bottom: 1px solid #dde1e7; background: #fff; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; }
#model { color: #6b7280; font-size: 13px; flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
button { font: inherit; padding: 6px 12px; border: 1px solid #c5ccd6; border-radius: 8px; background: #fff; cursor: pointer; }
button:hover { background: #eef1f5; }
#send { background: #2563eb; color: #fff; border-color: #2563eb; }
#stop { background: #dc2626; color: #fff; border-color: #dc2626; }
#settings, #login { padding: 8px 12px; background: #fff; border-bottom: 1px solid #dde1e7; }
#key-form { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; font-size: 14px; }
#key-form input[type=password] { font: inherit; padding: 4px 6px; }
#settings label { display: block; font-size: 14px; margin: 4px 0; }
#settings textarea, #settings input[type=number] { width: 100%; font: inherit; padding: 4px 6px; }
#settings .row { display: flex; gap: 8px; flex-wrap: wrap; }
#settings .row label { flex: 1 1 120px; }
#settings .check { display: flex; align-items: center; gap: 6px; }
#log { flex: 1; overflow-y: auto; padding: 12px; }
.msg { margin: 8px 0; padding: 8px 12px; border-radius: 12px; max-width: 100%; overflow-wrap: anywhere; }
.user { background: #dbeafe; margin-left: 15%; white-space: pre-wrap; }
.assistant { background: #fff; border: 1px solid #e5e7eb; margin-right: 5%; }
.assistant pre { background: #111827; color: #f9fafb; padding: 8px; border-radius: 8px; overflow-x: auto; }
.assistant code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 14px; }
.assistant table { border-collapse: collapse; } .assistant td, .assistant th { border: 1px solid #d1d5db; padding: 2px 6px; }
details.reasoning { color: #6b7280; font-size: 14px; margin-bottom: 4px; white-space: pre-wrap; }
.error { color: #b91c1c; }
.meta { color: #9ca3af; font-size: 12px; }
form#ask { display: flex; gap: 8px; padding: 8px 12px; border-top: 1px solid #dde1e7; background: #fff; }
form#ask textarea { flex: 1; font: inherit; padding: 6px 8px; border-radius: 8px; border: 1px solid #c5ccd6; resize: vertical; min-width: 0; }
@media (max-width: 480px) { .user { margin-left: 5%; } .assistant { margin-right: 0; } body { font-size: 15px; } }
`;

const JS = String.raw`
import { marked } from './marked.js';
import DOMPurify from './purify.js';

const $ = (id) => document.getElementById(id);
const KEY = 'minimind-chat', API_KEY = 'minimind-api-key';
let apiKey = sessionStorage.getItem(API_KEY) || localStorage.getItem(API_KEY) || '';
const headers = () => Object.assign({ 'Content-Type': 'application/json' }, apiKey ? { Authorization: 'Bearer ' + apiKey } : {});
const saved = JSON.parse(localStorage.getItem(KEY) || '{}');
let messages = Array.isArray(saved.messages) ? saved.messages : [];
let model = null, controller = null;
for (const k of ['system', 'temperature', 'top_p', 'max_tokens']) if (saved[k] !== undefined) $(k).value = saved[k];
$('thinking').checked = !!saved.thinking;

function save() {
  localStorage.setItem(KEY, JSON.stringify({ messages, system: $('system').value, temperature: $('temperature').value,
    top_p: $('top_p').value, max_tokens: $('max_tokens').value, thinking: $('thinking').checked }));
}
const render = (md) => DOMPurify.sanitize(marked.parse(md));

function bubble(role) {
  const div = document.createElement('div');
  div.className = 'msg ' + role;
  $('log').appendChild(div);
  return div;
}
function show(m) {
  const div = bubble(m.role);
  if (m.role === 'user') { div.textContent = m.content; return div; }
  fill(div, m.reasoning_content || '', m.content || '', m.note);
  return div;
}
function fill(div, reasoning, content, note) {
  div.replaceChildren();
  if (reasoning) {
    const d = document.createElement('details');
    d.className = 'reasoning';
    const s = document.createElement('summary');
    s.textContent = 'Thinking';
    d.append(s, reasoning);
    div.appendChild(d);
  }
  const body = document.createElement('div');
  body.className = 'content';
  body.innerHTML = render(content);
  div.appendChild(body);
  if (note) { const n = document.createElement('div'); n.className = 'meta'; n.textContent = note; div.appendChild(n); }
  $('log').scrollTop = $('log').scrollHeight;
}
function redraw() { $('log').replaceChildren(); messages.forEach(show); }

async function send(text) {
  messages.push({ role: 'user', content: text });
  show(messages[messages.length - 1]);
  const div = bubble('assistant');
  div.textContent = '…';
  const answer = { role: 'assistant', content: '', reasoning_content: '' };
  const sys = $('system').value.trim();
  const body = {
    model, stream: true, stream_options: { include_usage: true },
    messages: (sys ? [{ role: 'system', content: sys }] : []).concat(messages.map((m) => ({ role: m.role, content: m.content }))),
    temperature: Number($('temperature').value), top_p: Number($('top_p').value),
    max_tokens: Number($('max_tokens').value) || -1, enable_thinking: $('thinking').checked,
  };
  controller = new AbortController();
  $('send').hidden = true; $('stop').hidden = false;
  let note = '';
  try {
    const res = await fetch('v1/chat/completions', { method: 'POST', headers: headers(), body: JSON.stringify(body), signal: controller.signal });
    if (res.status === 401) askKey('Incorrect API key.');
    if (!res.ok) { const e = await res.json().catch(() => ({})); throw new Error((e.error && e.error.message) || res.statusText); }
    const reader = res.body.getReader(), dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const line = buf.slice(0, i).trim(); buf = buf.slice(i + 2);
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) note = chunk.usage.completion_tokens + ' tokens';
        const c = chunk.choices && chunk.choices[0];
        if (!c) continue;
        if (c.delta.content) answer.content += c.delta.content;
        if (c.delta.reasoning_content) answer.reasoning_content += c.delta.reasoning_content;
        if (c.finish_reason === 'length') note = 'stopped at max tokens';
        fill(div, answer.reasoning_content, answer.content, note);
      }
    }
  } catch (e) {
    if (e.name === 'AbortError') note = 'stopped';
    else { const p = document.createElement('div'); p.className = 'error'; p.textContent = 'Error: ' + e.message; div.appendChild(p); note = 'error'; }
  } finally {
    controller = null;
    $('send').hidden = false; $('stop').hidden = true;
  }
  answer.note = note;
  fill(div, answer.reasoning_content, answer.content, note);
  if (note === 'error' && !answer.content) { messages.pop(); }
  else messages.push(answer);
  save();
}

$('ask').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('input').value.trim();
  if (!text || controller) return;
  $('input').value = '';
  send(text);
});
$('input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('ask').requestSubmit(); }
});
$('stop').addEventListener('click', () => { if (controller) controller.abort(); });
$('clear').addEventListener('click', () => { if (controller) controller.abort(); messages = []; save(); redraw(); });
$('settings-toggle').addEventListener('click', () => {
  const s = $('settings'); s.hidden = !s.hidden; $('settings-toggle').setAttribute('aria-expanded', String(!s.hidden));
});
for (const k of ['system', 'temperature', 'top_p', 'max_tokens', 'thinking']) $(k).addEventListener('change', save);

function askKey(message) {
  $('login').hidden = false;
  $('key-error').textContent = message;
  $('key').focus();
}
async function connect() {
  const r = await fetch('v1/models', { headers: headers() }).catch(() => null);
  if (!r) { $('model').textContent = '(server unreachable)'; return; }
  if (r.status === 401) { askKey(apiKey ? 'Incorrect API key.' : ''); return; }
  const j = await r.json();
  model = j.data[0].id;
  $('model').textContent = model;
  $('login').hidden = true;
}
$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  apiKey = $('key').value;
  $('key').value = '';
  sessionStorage.setItem(API_KEY, apiKey);
  if ($('remember').checked) localStorage.setItem(API_KEY, apiKey); else localStorage.removeItem(API_KEY);
  connect();
});
connect();
redraw();
document.body.dataset.ready = '1';
`;

let table: Map<string, Asset> | null = null;

function assets(): Map<string, Asset> {
  if (table) return table;
  const req = createRequire(import.meta.url);
  // marked's package exports only its ESM entry; DOMPurify exports its ESM build by name
  const markedFile = req.resolve('marked');
  const purifyFile = path.join(path.dirname(req.resolve('dompurify/purify.js')), 'purify.es.mjs');
  const js = 'text/javascript; charset=utf-8';
  table = new Map([
    ['/', { type: 'text/html; charset=utf-8', body: Buffer.from(HTML) }],
    ['/static/app.css', { type: 'text/css; charset=utf-8', body: Buffer.from(CSS) }],
    ['/static/app.js', { type: js, body: Buffer.from(JS) }],
    ['/static/marked.js', { type: js, body: fs.readFileSync(markedFile) }],
    ['/static/purify.js', { type: js, body: fs.readFileSync(purifyFile) }],
  ]);
  return table;
}

/** The page's file at a URL path, or undefined (only these fixed names are served). */
export function pageAsset(urlPath: string): Asset | undefined {
  return assets().get(urlPath === '/index.html' ? '/' : urlPath);
}
