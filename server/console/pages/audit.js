import { alertBox, el, field, formatTime, heading } from '../ui.js';

// The audit log (ACC-1), read-only: first the verdict of the hash-chain check (GET /v1/admin/audit/verify:
// intact, or broken at entry N and why), then the entries page by page (GET /v1/admin/audit?fromSeq&limit).
// Entries carry IDs, never personal data; a shopper's ID is still an identifier the console does not
// show (issue 8: no identifier beyond what the role needs), so it is replaced by "a shopper".

export const PAGE_SIZE = 50;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHOPPER_ACTIONS = /^(shopper|consent|credential)\./;

/** The subject as the console shows it: a shopper's ID is withheld. */
export function shownSubject(entry) {
  if (UUID.test(entry.subject) || (entry.actor === 'shopper' && SHOPPER_ACTIONS.test(entry.action))) return 'a shopper (ID withheld)';
  return entry.subject === '' ? '—' : entry.subject;
}

const detailsText = (details) => Object.entries(details ?? {})
  .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
  .join('; ') || '—';

function verdict(check, { onRecheck, onShow }) {
  const recheck = el('button', { type: 'button', class: 'secondary', text: 'Check the chain again', onclick: onRecheck });
  if (check.ok) {
    return el('div', { class: 'verdict verdict-ok', role: 'status', dataset: { chain: 'ok' } },
      el('p', { class: 'verdict-title', text: `Chain intact: all ${check.entries} entries verified` }),
      el('p', { text: `Each entry's hash chains to the one before it, from the first to the last. Checked ${formatTime(check.checkedAtMs)}.` }),
      check.head ? el('p', {}, 'Head hash: ', el('code', { class: 'hash', text: check.head })) : null,
      recheck);
  }
  return el('div', { class: 'verdict verdict-broken', role: 'alert', dataset: { chain: 'broken', firstBadSeq: String(check.firstBadSeq ?? '') } },
    el('p', { class: 'verdict-title', text: `Chain BROKEN at entry ${check.firstBadSeq}` }),
    el('p', { text: `Reason: ${check.reason ?? check.fault ?? 'not given'}.` }),
    el('p', { text: `The ${check.entries} entries before it are intact; from entry ${check.firstBadSeq} on, the log cannot be trusted. Checked ${formatTime(check.checkedAtMs)}.` }),
    el('div', { class: 'actions' },
      el('button', { type: 'button', text: `Show entry ${check.firstBadSeq}`, onclick: () => onShow(check.firstBadSeq) }),
      recheck));
}

function entriesTable(entries, badSeq) {
  return el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Audit log entries' },
    el('table', { class: 'audit-table' },
      el('caption', { text: entries.length === 0 ? 'Audit log entries' : `Audit log entries ${entries[0].seq} to ${entries[entries.length - 1].seq}` }),
      el('thead', {}, el('tr', {}, ['Entry', 'Time', 'Actor', 'Action', 'Subject', 'Details and hash'].map((c) => el('th', { scope: 'col', text: c })))),
      el('tbody', {}, entries.map((e) => {
        const broken = e.seq === badSeq;
        return el('tr', { class: broken ? 'row-broken' : null, dataset: { seq: String(e.seq) } },
          el('th', { scope: 'row', class: 'wrap-narrow' }, String(e.seq), broken ? el('span', { class: 'breaks-here', text: ' — chain breaks here' }) : null),
          el('td', { text: formatTime(e.atMs) }),
          el('td', { text: e.actor }),
          el('td', { text: e.action }),
          el('td', { text: shownSubject(e) }),
          el('td', { class: 'audit-details' }, detailsText(e.details), el('span', { class: 'hash', text: `hash ${String(e.hash).slice(0, 16)}…` })));
      }))));
}

export default {
  id: 'audit',
  title: 'Audit log',
  permission: 'audit.read',
  async render(view, ctx) {
    const verdictBox = el('div', { class: 'audit-verdict' }, el('p', { class: 'loading', text: 'Checking the hash chain…' }));
    const pager = el('nav', { class: 'pager', 'aria-label': 'Audit log pages' });
    const list = el('div', { class: 'audit-entries' });
    view.append(
      heading('Audit log'),
      el('p', { class: 'hint', text: 'Every consent change, data-subject request, configuration change, login and retention purge, hash-chained so that an altered, missing or reordered entry is detected. Read-only.' }),
      el('h2', { text: 'Chain check' }), verdictBox,
      el('h2', { text: 'Entries' }), pager, list);

    let check = null;
    let fromSeq = Math.max(1, Number.parseInt(ctx.params[0] ?? '1', 10) || 1);

    const runCheck = async () => {
      verdictBox.setAttribute('aria-busy', 'true');
      try {
        check = await ctx.api('GET', '/v1/admin/audit/verify');
        if (ctx.signal.aborted) return;
        verdictBox.replaceChildren(verdict(check, { onRecheck: () => void runCheck().then(() => showPage(fromSeq)), onShow: (seq) => void showPage(seq) }));
      } catch (error) {
        if (ctx.signal.aborted) return;
        check = null;
        verdictBox.replaceChildren(el('div', { class: 'verdict verdict-unknown', role: 'alert', dataset: { chain: 'unknown' } },
          el('p', { class: 'verdict-title', text: 'The chain could not be checked' }), el('p', { text: error?.message ?? String(error) })));
      } finally {
        verdictBox.removeAttribute('aria-busy');
      }
    };

    const button = (text, seq, disabled) => el('button', { type: 'button', class: 'secondary', text, disabled, onclick: () => void showPage(seq) });

    async function showPage(seq) {
      fromSeq = Math.max(1, seq);
      history.replaceState(history.state, '', `#/audit/${fromSeq}`);
      list.setAttribute('aria-busy', 'true');
      try {
        const page = await ctx.api('GET', `/v1/admin/audit?fromSeq=${fromSeq}&limit=${PAGE_SIZE}`);
        if (ctx.signal.aborted) return;
        const badSeq = check !== null && !check.ok ? check.firstBadSeq : undefined;
        // The last page is known from an intact chain's length; a broken one counts only up to the break.
        const lastStart = check?.ok ? Math.max(1, check.entries - PAGE_SIZE + 1) : null;
        const goTo = el('input', { type: 'number', name: 'seq', min: '1', step: '1', value: String(fromSeq), inputmode: 'numeric' });
        // (replaceChildren would write a null as the text "null".)
        pager.replaceChildren(...[
          button('First', 1, fromSeq === 1),
          button('Previous', fromSeq - PAGE_SIZE, fromSeq === 1),
          button('Next', page.nextSeq ?? fromSeq, page.nextSeq === null),
          lastStart !== null ? button('Latest', lastStart, page.nextSeq === null) : null,
          el('form', { onsubmit: (e) => {
            e.preventDefault();
            void showPage(Number.parseInt(goTo.value, 10) || 1);
          } }, field('From entry', goTo), el('button', { type: 'submit', class: 'secondary', text: 'Go' })),
        ].filter((node) => node !== null));
        list.replaceChildren(page.entries.length === 0
          ? el('p', { class: 'empty', text: fromSeq === 1 ? 'The audit log is empty.' : `No entry from ${fromSeq} on.` })
          : entriesTable(page.entries, badSeq));
      } catch (error) {
        if (!ctx.signal.aborted) list.replaceChildren(alertBox(error?.message ?? String(error)));
      } finally {
        list.removeAttribute('aria-busy');
      }
    }

    await runCheck();
    await showPage(fromSeq);
  },
};
