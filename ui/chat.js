// chat.js: an observation's input and output, drawn as the conversation they are.
//
// Recognised shapes: OpenAI chat messages (content strings or parts, tool_calls, tool
// results), {messages, tools} (a call with tools), Anthropic content blocks (text, tool_use,
// tool_result) with a top-level system prompt, the Responses API's input items, and plain
// strings.  Anything else is shown as JSON; the raw JSON is always one click away.

import { h } from './dom.js';
import { jsonView, maybeParse } from './json.js';

const isMsg = (m) => m && typeof m === 'object' && !Array.isArray(m) && typeof m.role === 'string';

const LONG_TEXT = 4000;

// Long texts (a pasted document, a RAG context) start folded so the turns around stay visible.
function text(s) {
  s = String(s);
  if (s.length <= LONG_TEXT) return h('div', { class: 'msg-text' }, s);
  const el = h('div', { class: 'msg-text' }, `${s.slice(0, LONG_TEXT)}…`);
  const more = h('button', { type: 'button', class: 'link' }, `show all ${s.length} characters`);
  more.addEventListener('click', () => {
    el.textContent = s;
    more.remove();
  });
  return h('div', null, el, more);
}

function toolCall(name, args, id) {
  const parsed = maybeParse(args);
  return h('div', { class: 'tool-call' },
    h('div', { class: 'tool-head' }, h('span', { class: 'tool-icon', 'aria-hidden': 'true' }, 'ƒ'), ' ',
      h('strong', { class: 'mono' }, name || '(unnamed tool)'), id ? h('span', { class: 'muted mono' }, ` ${id}`) : null),
    typeof parsed === 'string' ? text(parsed) : jsonView(parsed, 3));
}

function part(p) {
  if (typeof p === 'string') return text(p);
  if (!p || typeof p !== 'object') return jsonView(p);
  switch (p.type) {
  case 'text':
  case 'input_text':
  case 'output_text':
    return text(p.text ?? '');
  case 'image_url':
  case 'input_image': {
    const url = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url || p.url || '';
    return h('div', { class: 'muted' }, `[image ${url.startsWith('data:') ? `${url.slice(0, 30)}… (${url.length} chars)` : url}]`);
  }
  case 'tool_use':
    return toolCall(p.name, p.input, p.id);
  case 'function_call':
    return toolCall(p.name, p.arguments, p.call_id);
  case 'tool_result':
    return h('div', { class: 'tool-result' }, h('div', { class: 'tool-head muted' }, `result of ${p.tool_use_id || 'tool'}`), content(p.content));
  default:
    return jsonView(p, 1);
  }
}

function content(c) {
  if (c === null || c === undefined) return null;
  if (typeof c === 'string') return text(c);
  if (Array.isArray(c)) return c.map(part);
  return part(c);
}

function message(m) {
  const role = m.role;
  const head = h('div', { class: 'msg-role' }, role,
    m.name ? h('span', { class: 'muted' }, ` (${m.name})`) : null,
    m.tool_call_id ? h('span', { class: 'muted mono' }, ` ← ${m.tool_call_id}`) : null);
  const calls = (m.tool_calls || []).map((tc) => toolCall(tc.function?.name ?? tc.name, tc.function?.arguments ?? tc.arguments, tc.id));
  if (m.function_call) calls.push(toolCall(m.function_call.name, m.function_call.arguments));
  return h('div', { class: ['msg', `role-${role.replace(/[^a-z_]/gi, '')}`] }, head,
    content(m.content), m.refusal ? h('div', { class: 'msg-text refusal' }, m.refusal) : null, calls);
}

function messages(list) {
  return h('div', { class: 'chat' }, list.map((m) => (isMsg(m) ? message(m) : h('div', { class: 'msg' }, part(m)))));
}

function tools(list) {
  return h('details', { class: 'tools' }, h('summary', null, `${list.length} tool${list.length === 1 ? '' : 's'} offered`),
    list.map((t) => {
      const f = t.function || t;
      return h('div', { class: 'tool-def' }, h('strong', { class: 'mono' }, f.name || '?'),
        f.description ? h('span', { class: 'muted' }, ` — ${f.description}`) : null,
        f.parameters || f.input_schema ? jsonView(f.parameters || f.input_schema, 0) : null);
    }));
}

// The best rendering of `v`; null when there is nothing.
function render(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return h('div', { class: 'chat' }, h('div', { class: 'msg' }, text(v)));
  if (Array.isArray(v) && v.length && v.every((m) => isMsg(m) || (m && typeof m === 'object' && m.type))) return messages(v);
  if (isMsg(v)) return messages([v]);
  if (v && typeof v === 'object' && (Array.isArray(v.messages) || Array.isArray(v.input))) {
    const list = Array.isArray(v.messages) ? v.messages : v.input;
    const sys = v.system ? [{ role: 'system', content: v.system }] : [];
    const instr = v.instructions ? [{ role: 'system', content: v.instructions }] : [];
    return h('div', null, messages([...sys, ...instr, ...list]), Array.isArray(v.tools) && v.tools.length ? tools(v.tools) : null);
  }
  if (v && typeof v === 'object' && Array.isArray(v.choices)) {
    return messages(v.choices.map((c) => c.message || c.delta || c).filter(isMsg));
  }
  return null;
}

// A titled block: the conversation view when the shape is known, the JSON otherwise, and the
// raw JSON behind a toggle.
export function ioBlock(title, v) {
  if (v === null || v === undefined) return null;
  const pretty = render(v);
  return h('section', { class: 'io' }, h('h3', null, title),
    pretty || jsonView(v, 2),
    pretty ? h('details', { class: 'raw' }, h('summary', null, 'raw JSON'), jsonView(v, 1)) : null);
}
