import { ApiFailure } from '../api.js';
import { alertBox, el, field, formatTime, isControl, showIssues, toast } from '../ui.js';
import { emptyState, fromDefinition, getPath, LOYALTY_TIERS, newVariant, newWindow, setPath, toDefinition } from './model.js';
import { durationHint, renderSections } from './sections.js';

// The campaign builder: the whole campaign model as a form (sections.js), a live preview of the message
// as a shopper would receive it (POST /v1/admin/campaigns/preview, debounced), the server's validation
// messages next to their fields, and save (PUT /v1/admin/campaigns/:id with the version it edits).
// What the marketer types is kept in sessionStorage as they type, so nothing is lost if the session
// expires (api.js opens the login dialog and retries) or the tab reloads; a successful save clears it.

const PREVIEW_DELAY_MS = 400;
const DRAFT_PREFIX = 'vicino.console.campaignDraft.';

const draftKey = (campaignId) => `${DRAFT_PREFIX}${campaignId ?? 'new'}`;

function readDraft(key) {
  try {
    const raw = sessionStorage.getItem(key);
    return raw === null ? null : JSON.parse(raw);
  } catch {
    return null;
  }
}

const slugify = (name) => name.toLowerCase().normalize('NFKD').replace(/[^\w\s-]/g, '').trim().replace(/[\s_]+/g, '-').replace(/[^a-z0-9-]/g, '').slice(0, 64);

/** Whether an issue about `field` concerns a control the user has changed (or a part of it). */
function concerns(touched, fieldPath) {
  for (const name of touched) {
    if (name === fieldPath || name.startsWith(`${fieldPath}.`) || fieldPath.startsWith(`${name}.`)) return true;
  }
  return false;
}

function renderMessage(rendered, className) {
  if (!rendered) return el('div', { class: `phone ${className}` }, el('p', { class: 'muted', text: 'No preview until the definition is valid.' }));
  return el('div', { class: `phone ${className}` },
    el('p', { class: 'title', text: rendered.title }),
    el('p', { class: 'body', text: rendered.body }),
    rendered.deepLink ? el('p', { class: 'link', text: rendered.deepLink }) : null);
}

/**
 * Draws the builder in `container`. campaign: the campaign being edited (from the API), or undefined
 * for a new one. Resolves once the form is on screen.
 */
export async function renderBuilder(container, ctx, campaign) {
  const isNew = campaign === undefined;
  const key = draftKey(campaign?.id);
  const { stores } = await ctx.api('GET', '/v1/admin/stores');
  const storeDetails = new Map((await Promise.all(stores.map((s) => ctx.api('GET', `/v1/admin/stores/${encodeURIComponent(s.id)}`)))).map((d) => [d.id, d]));

  const saved = readDraft(key);
  let state = saved?.state ?? (isNew ? emptyState(stores) : fromDefinition(campaign, campaign.id));
  const touched = new Set(saved?.touched ?? []);
  let showAll = false;
  let lastIssues = [];

  const form = el('form', { class: 'campaign-form', novalidate: true, 'aria-label': 'Campaign' });
  const sections = el('div', { class: 'sections' });
  const saveButton = el('button', { type: 'submit', text: isNew ? 'Save as draft' : `Save as version ${campaign.version + 1}` });
  const jsonArea = el('textarea', { class: 'json', 'aria-label': 'Campaign definition as JSON', spellcheck: 'false' });
  const jsonStatus = el('div', { 'aria-live': 'polite' });
  form.append(sections,
    el('details', { class: 'json-view' }, el('summary', { text: 'JSON (for power users)' }),
      el('p', { class: 'hint', text: 'The definition as the API receives it. Edit it and apply to fill in the form.' }),
      jsonArea, jsonStatus,
      el('div', { class: 'actions' }, el('button', { type: 'button', class: 'secondary', text: 'Apply JSON to the form', onclick: () => applyJson() }))),
    el('div', { class: 'actions' }, saveButton,
      el('a', { href: isNew ? '#/campaigns' : `#/campaigns/${encodeURIComponent(campaign.id)}`, class: 'button secondary', text: 'Cancel' })));

  const sample = { firstName: 'Giulia', loyaltyTier: 'gold' };
  const sampleForm = el('form', { class: 'sample', 'aria-label': 'Sample shopper for the preview', novalidate: true },
    el('div', { class: 'inline-fields' },
      field('Sample first name', el('input', { type: 'text', name: 'sample.firstName', value: sample.firstName })),
      field('Sample loyalty tier', el('select', { name: 'sample.loyaltyTier' }, LOYALTY_TIERS.map((t) => el('option', { value: t, selected: t === sample.loyaltyTier, text: t }))))));
  const previewStatus = el('div', { class: 'preview-status', role: 'status', 'aria-live': 'polite' });
  const personalised = el('div');
  const generic = el('div');
  const problems = el('div', { class: 'preview-problems' });
  const preview = el('aside', { class: 'preview', 'aria-labelledby': 'preview-heading' },
    el('h2', { id: 'preview-heading', text: 'Live preview' }), sampleForm, previewStatus,
    el('h3', { text: 'With personalisation consent' }), personalised,
    el('h3', { text: 'Without it (generic)' }), generic, problems);

  const restored = saved === null ? null : el('div', { class: 'alert alert-info', role: 'status' },
    el('p', { text: `Restored your unsaved changes from ${formatTime(saved.savedAtMs)}.` }),
    !isNew && saved.baseVersion !== campaign.version ? el('p', { text: `The campaign has changed since (it is at version ${campaign.version}, your changes began from ${saved.baseVersion}): saving them will be refused, so copy what you need first.` }) : null,
    el('button', { type: 'button', class: 'secondary', text: 'Discard my changes', onclick: () => {
      sessionStorage.removeItem(key);
      state = isNew ? emptyState(stores) : fromDefinition(campaign, campaign.id);
      touched.clear();
      restored.remove();
      redraw();
      schedulePreview();
    } }));
  // On a narrow screen the preview is under the form: one button away.
  const previewHeading = preview.querySelector('h2');
  previewHeading.tabIndex = -1;
  const toPreview = el('button', { type: 'button', class: 'secondary narrow-only', text: 'Go to the live preview', onclick: () => {
    previewHeading.scrollIntoView({ block: 'start' });
    previewHeading.focus();
  } });
  container.append(el('div', { class: 'builder' }, el('div', {}, toPreview, restored, form), preview));

  const env = () => {
    const { placement } = state;
    const ids = placement.level === 'organisation' ? stores.map((s) => s.id) : placement.level === 'stores' ? placement.storeIds : placement.storeId ? [placement.storeId] : [];
    const placedStores = ids.map((id) => storeDetails.get(id)).filter(Boolean);
    const zones = new Map();
    for (const store of placedStores) for (const zone of store.zones) if (!zones.has(zone.id)) zones.set(zone.id, zone);
    return { isNew, stores, storeDetails, placedStores, placedZones: [...zones.values()] };
  };

  const actions = {
    addWindow: () => structural('schedule.windows', () => state.schedule.windows.push(newWindow()), () => `schedule.windows.${state.schedule.windows.length - 1}.days`),
    removeWindow: (i) => structural('schedule.windows', () => state.schedule.windows.splice(i, 1), () => null, '[data-action="add-window"]'),
    addVariant: () => structural('experiment.variants', () => state.experiment.variants.push(newVariant(state)), () => `experiment.variants.${state.experiment.variants.length - 1}.id`),
    removeVariant: (i) => structural('experiment.variants', () => state.experiment.variants.splice(i, 1), () => null, '[data-action="add-variant"]'),
  };

  /** A change of the form's shape (a row added or removed): redraw, and put focus somewhere sensible. */
  function structural(path, change, focusName, focusSelector) {
    change();
    touched.add(path);
    keepDraft();
    redraw();
    const name = focusName();
    (name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : form.querySelector(focusSelector))?.focus();
    schedulePreview();
  }

  /** Draws the form from the state, keeping the focused control focused, and the messages shown. */
  function redraw() {
    const active = document.activeElement;
    const focus = isControl(active) && form.contains(active) ? { name: active.name, value: active.value, type: active.type } : null;
    sections.replaceChildren(...renderSections(state, env(), actions));
    if (focus) {
      const selector = focus.type === 'radio' || focus.type === 'checkbox'
        ? `[name="${CSS.escape(focus.name)}"][value="${CSS.escape(focus.value)}"]`
        : `[name="${CSS.escape(focus.name)}"]`;
      form.querySelector(selector)?.focus();
    }
    applyIssues();
  }

  function applyIssues() {
    showIssues(form, lastIssues, { only: showAll ? undefined : (fieldPath) => concerns(touched, fieldPath), aliases: { campaignId: 'campaignId' } });
  }

  function keepDraft() {
    try {
      sessionStorage.setItem(key, JSON.stringify({ state, touched: [...touched], savedAtMs: Date.now(), baseVersion: campaign?.version ?? 0 }));
    } catch {
      // Storage full or refused: the form itself still holds everything.
    }
  }

  function onEdit(event) {
    const target = event.target;
    if (!isControl(target) || !target.name || !form.contains(target)) return;
    const path = target.name;
    let value;
    if (target.type === 'checkbox' && target.dataset.kind === 'bool') value = target.checked;
    else if (target.type === 'checkbox') value = [...form.querySelectorAll(`input[name="${CSS.escape(path)}"]:checked`)].map((x) => x.value);
    else if (target.type === 'radio') {
      if (!target.checked) return;
      value = target.value;
    } else value = target.value;
    if (JSON.stringify(getPath(state, path)) === JSON.stringify(value)) return;
    setPath(state, path === 'campaignId' ? 'campaignId' : path, value);
    touched.add(path);
    // A new campaign's ID follows its name until the marketer types one.
    if (isNew && path === 'name' && !touched.has('campaignId')) {
      state.campaignId = slugify(value);
      const idInput = form.querySelector('[name="campaignId"]');
      if (idInput) idInput.value = state.campaignId;
    }
    if (target.dataset.duration === 'true') {
      const hint = document.getElementById(`${target.id}-hint`);
      if (hint) hint.textContent = durationHint(target.value);
    }
    if (target.dataset.structural === 'true') redraw();
    keepDraft();
    schedulePreview();
  }
  form.addEventListener('input', onEdit);
  form.addEventListener('change', onEdit);
  sampleForm.addEventListener('input', (event) => {
    if (!isControl(event.target)) return;
    sample[event.target.name.slice('sample.'.length)] = event.target.value;
    schedulePreview();
  });
  sampleForm.addEventListener('submit', (event) => event.preventDefault());

  let timer = null;
  let sequence = 0;
  // Leaving the page cancels a preview still waiting for the marketer to stop typing (the draft is kept).
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));
  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(() => void runPreview(), PREVIEW_DELAY_MS);
  }

  async function runPreview() {
    const mine = ++sequence;
    const definition = toDefinition(state);
    if (!jsonArea.matches(':focus')) jsonArea.value = JSON.stringify(definition, null, 2);
    previewStatus.textContent = 'Checking…';
    try {
      // An empty sample value is left out: the shopper then has none, as a shopper who gave no first name.
      const given = Object.fromEntries(Object.entries(sample).filter(([, value]) => value.trim() !== ''));
      const result = await ctx.api('POST', '/v1/admin/campaigns/preview', { definition, sample: given });
      if (mine !== sequence || ctx.signal.aborted) return;
      lastIssues = result.issues;
      previewStatus.textContent = result.valid ? 'Valid: ready to save.' : `${result.issues.length} ${result.issues.length === 1 ? 'problem' : 'problems'} to fix before saving.`;
      previewStatus.className = `preview-status ${result.valid ? 'ok' : 'invalid'}`;
      personalised.replaceChildren(renderMessage(result.preview?.personalised, 'personalised'));
      generic.replaceChildren(renderMessage(result.preview?.generic, 'generic'));
      problems.replaceChildren(result.issues.length === 0 ? '' : el('ul', {}, result.issues.map((i) => el('li', { text: `${i.field}: ${i.message}` }))));
      applyIssues();
    } catch (error) {
      if (mine !== sequence || ctx.signal.aborted) return;
      previewStatus.textContent = `Preview unavailable: ${error.message}`;
    }
  }

  function applyJson() {
    try {
      const parsed = JSON.parse(jsonArea.value);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the JSON must be an object');
      state = fromDefinition(parsed, state.campaignId);
      for (const name of ['name', 'placement', 'trigger', 'audience', 'schedule', 'caps', 'budget', 'experiment', 'attribution', 'message', 'priority']) touched.add(name);
      jsonStatus.replaceChildren(alertBox('Applied to the form.', 'ok'));
      redraw();
      keepDraft();
      schedulePreview();
    } catch (error) {
      jsonStatus.replaceChildren(alertBox(`Not applied: ${error.message}`));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    showAll = true;
    const campaignId = state.campaignId.trim();
    if (campaignId === '') {
      lastIssues = [{ field: 'campaignId', message: 'required: 1–64 lower-case letters, digits, "-" or "_"' }];
      applyIssues();
      form.querySelector('[name="campaignId"]')?.focus();
      return;
    }
    saveButton.disabled = true;
    try {
      const body = { ...toDefinition(state), expectedVersion: isNew ? 0 : campaign.version };
      const result = await ctx.api('PUT', `/v1/admin/campaigns/${encodeURIComponent(campaignId)}`, body);
      sessionStorage.removeItem(key);
      toast(`Saved ${result.name}: version ${result.version}, a draft.`);
      ctx.navigate(`#/campaigns/${encodeURIComponent(result.id)}`);
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      // Each field's message next to it; a refusal about the whole campaign (a conflict) at the top.
      lastIssues = error.issues;
      const first = showIssues(form, lastIssues, { message: error.message, aliases: { campaignId: 'campaignId' } });
      const alert = form.querySelector('.form-alert');
      if (alert) alert.tabIndex = -1;
      (first ?? alert)?.focus();
    } finally {
      saveButton.disabled = false;
    }
  });

  redraw();
  await runPreview();
}
