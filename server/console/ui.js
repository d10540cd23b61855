// DOM helpers of the console. Text goes in as text (textContent), never as HTML, so nothing the API
// returns can become markup. Inline styles are set through the CSSOM (element.style), which the
// Content-Security-Policy allows; a style="" attribute would be refused.

import { ApiFailure } from './api.js';

/**
 * Creates an element. attrs: `class`, `text`, `style` (an object), `dataset` (an object), `on<event>`
 * handlers (onclick, oninput…), booleans (true sets the attribute, false leaves it out), other values as
 * attributes; null and undefined are skipped. Children: nodes, strings, arrays of them, null (skipped).
 */
export function el(tag, attrs = {}, ...children) {
  const svg = tag.startsWith('svg:');
  const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'style') Object.assign(node.style, value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'value' && 'value' in node && !svg) node.value = String(value);
    else if (key === 'checked' && !svg) node.checked = Boolean(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

let idCounter = 0;
/** A unique element ID with a readable prefix. */
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * A labelled form field: the label, the control (given, or an <input> made from `input` attrs), an
 * optional hint, all in one wrapper that showIssues puts the field's message in.
 */
export function field(label, control, hint) {
  const input = control instanceof Element ? control : el('input', control);
  if (!input.id) input.id = uid('f');
  const hintNode = hint ? el('p', { class: 'hint', id: `${input.id}-hint`, text: hint }) : null;
  if (hintNode) addDescribedBy(input, hintNode.id);
  return el('div', { class: 'field' }, el('label', { for: input.id, text: label }), input, hintNode);
}

/** A group of checkboxes (or radios) under one legend, each with its own label; name is the field's path. */
export function choiceGroup(legend, name, options, { type = 'checkbox', selected = [], hint, disabled = () => false } = {}) {
  const chosen = new Set([selected].flat().map(String));
  const group = el('fieldset', { class: 'choices', dataset: { field: name } }, el('legend', { text: legend }));
  if (hint) group.append(el('p', { class: 'hint', text: hint }));
  for (const option of options) {
    const value = typeof option === 'string' ? option : option.value;
    const label = typeof option === 'string' ? option : option.label;
    const id = uid('c');
    group.append(el('div', { class: 'choice' },
      el('input', { type, id, name, value, checked: chosen.has(String(value)), disabled: disabled(value) }),
      el('label', { for: id, text: label })));
  }
  return group;
}

function addDescribedBy(node, id) {
  const ids = new Set((node.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean));
  ids.add(id);
  node.setAttribute('aria-describedby', [...ids].join(' '));
}

function removeDescribedBy(node, id) {
  const ids = (node.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((x) => x && x !== id);
  if (ids.length === 0) node.removeAttribute('aria-describedby');
  else node.setAttribute('aria-describedby', ids.join(' '));
}

/** The control or group for a field's dotted path: its own, else its nearest parent's ("a.b.0" → "a.b" → "a"). */
function controlFor(form, fieldPath) {
  const parts = fieldPath.split('.');
  while (parts.length > 0) {
    const path = parts.join('.');
    const found = [...form.querySelectorAll('[name], [data-field]')].find((node) => (node.dataset.field ?? node.getAttribute('name')) === path);
    if (found) return found;
    parts.pop();
  }
  return null;
}

/** Removes the messages showIssues put in this form. */
export function clearIssues(form) {
  for (const node of form.querySelectorAll('.field-error')) {
    const target = node.previousElementSibling;
    node.remove();
    if (target) removeDescribedBy(target, node.id);
  }
  for (const node of form.querySelectorAll('[aria-invalid="true"]')) {
    node.removeAttribute('aria-invalid');
    const error = (node.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((id) => id.startsWith('err-'));
    for (const id of error) removeDescribedBy(node, id);
  }
  for (const node of form.querySelectorAll('.form-alert')) node.remove();
}

/**
 * Shows the server's validation messages in a form: each issue ({ field, message }, field a dotted path
 * such as "caps.perShopper.count") next to the control whose name (or data-field) is that path, or its
 * nearest parent's, linked with aria-describedby and marked aria-invalid; what matches no control goes
 * in an alert at the top of the form. `message` (optional) heads that alert. `only` (optional) keeps
 * the issues whose field it accepts. Returns the first control marked, for focus.
 */
export function showIssues(form, issues, { message, only, aliases = {} } = {}) {
  clearIssues(form);
  const unmatched = [];
  let first = null;
  const byControl = new Map();
  for (const issue of issues ?? []) {
    const fieldPath = aliases[issue.field] ?? issue.field;
    if (only && !only(fieldPath)) continue;
    const control = fieldPath && fieldPath !== '(root)' ? controlFor(form, fieldPath) : null;
    if (control === null) {
      unmatched.push(issue);
      continue;
    }
    const messages = byControl.get(control) ?? [];
    messages.push(control.dataset.field === fieldPath || control.getAttribute('name') === fieldPath ? issue.message : `${issue.field}: ${issue.message}`);
    byControl.set(control, messages);
  }
  for (const [control, messages] of byControl) {
    const id = uid('err');
    // A group (fieldset) gets its message after its legend; a single control right after itself.
    const note = el('p', { class: 'field-error', id, text: [...new Set(messages)].join(' · ') });
    if (control.tagName === 'FIELDSET') {
      const legend = control.querySelector(':scope > legend');
      if (legend) legend.after(note);
      else control.prepend(note);
      // The note is not the sibling after a control, so clearIssues finds its target through the group.
      control.setAttribute('aria-invalid', 'true');
      addDescribedBy(control, id);
    } else {
      control.after(note);
      control.setAttribute('aria-invalid', 'true');
      addDescribedBy(control, id);
    }
    first ??= control;
  }
  if (unmatched.length > 0 || (message && byControl.size === 0)) {
    // The API's message names every field; when some went next to their controls, only the rest is listed here.
    const alert = el('div', { class: 'form-alert', role: 'alert' }, unmatched.length > 0
      ? el('ul', {}, unmatched.map((i) => el('li', { text: i.field && i.field !== '(root)' ? `${i.field}: ${i.message}` : i.message })))
      : el('p', { text: message }));
    form.prepend(alert);
  }
  return first;
}

/** Shows an error from the API (or any error) on a form: its field issues, or its message at the top. */
export function showError(form, error) {
  const issues = Array.isArray(error?.issues) ? error.issues : [];
  return showIssues(form, issues, { message: error?.message ?? String(error) });
}

/**
 * Sends a form through the API when it is submitted: `send` makes the call and shows what it gave. On the
 * API's refusal its issues go next to their fields and focus moves to the first of them (or to
 * `fallback`); any other error is thrown.
 */
export function onApiSubmit(form, fallback, send) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await send();
      clearIssues(form);
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      (showError(form, error) ?? fallback).focus();
    }
  });
}

/** The box for a secret the server shows this once (a gateway's config, a till's token, an API key), read out at once. */
export function shownOnce(message, ...content) {
  return el('div', { class: 'once', role: 'alert' }, el('p', {}, el('strong', { text: 'Shown once: ' }), message), ...content);
}

/** An alert (role=alert) with a message, for a page or a section. */
export function alertBox(message, kind = 'error') {
  return el('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status', text: message });
}

/**
 * A table in a horizontally scrolling, keyboard-focusable region. columns: [{ label, value(row) → text
 * or node, class? }]; rows: any array. An empty list shows `empty`.
 */
export function table(columns, rows, { caption, empty = 'Nothing yet.' } = {}) {
  if (rows.length === 0) return el('p', { class: 'empty', text: empty });
  const captionId = caption ? uid('cap') : null;
  return el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': captionId },
    el('table', {},
      caption ? el('caption', { id: captionId, text: caption }) : null,
      el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col', class: c.class, text: c.label })))),
      el('tbody', {}, rows.map((row) => el('tr', {}, columns.map((c) => {
        const value = c.value(row);
        return el('td', { class: c.class }, value instanceof Node ? value : value === null || value === undefined ? '—' : String(value));
      }))))));
}

/** A short message in the page's live region; it goes away by itself. */
export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const node = el('div', { class: `toast toast-${kind}`, text: message });
  region.append(node);
  setTimeout(() => node.remove(), kind === 'error' ? 10_000 : 5_000);
}

/** A time as the user's locale shows it; "never" for null. */
export function formatTime(ms) {
  if (ms === null || ms === undefined) return 'never';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** Seconds as words: 90 → "1 min 30 s", 86400 → "1 d". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '';
  const units = [['d', 86_400], ['h', 3_600], ['min', 60], ['s', 1]];
  const parts = [];
  let rest = Math.round(seconds);
  for (const [name, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    }
  }
  return parts.length === 0 ? '0 s' : parts.slice(0, 2).join(' ');
}

/** A page's heading: the element focus moves to when the page opens (app.js). */
export function heading(text) {
  return el('h1', { tabindex: '-1', class: 'page-heading', text });
}

/** Saves a value as a file the browser downloads (a Blob link), and returns the link for the page to keep. */
export function downloadLink(filename, content, label, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([content], { type }));
  return el('a', { href: url, download: filename, class: 'button', text: label });
}

/** Whether an element is a form control whose value counts (not a button). */
export function isControl(node) {
  return node instanceof HTMLInputElement || node instanceof HTMLSelectElement || node instanceof HTMLTextAreaElement;
}
