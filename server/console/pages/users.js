import { choiceGroup, el, field, formatTime, heading, onApiSubmit, shownOnce, table, toast } from '../ui.js';

// People and machines (admin, principals.manage): console users with a role (POST/GET/DELETE
// /v1/admin/users; disabling one ends their sessions) and API keys for machines (/v1/admin/api-keys;
// a key is shown once). Roles: server/auth/permissions.ts.

const ROLES = [
  { value: 'marketer', label: 'marketer — builds campaigns, approves others\' campaigns' },
  { value: 'analyst', label: 'analyst — reads campaigns, analytics and the live view' },
  { value: 'auditor', label: 'auditor — reads campaigns, the audit log and privacy records' },
  { value: 'admin', label: 'admin — everything, including stores, devices and users' },
];

function userSection(ctx) {
  const list = el('div');
  const refresh = async () => {
    const { users } = await ctx.api('GET', '/v1/admin/users');
    list.replaceChildren(table([
      { label: 'Username', value: (u) => u.username },
      { label: 'Role', value: (u) => u.role },
      { label: 'Created', value: (u) => formatTime(u.createdAtMs) },
      { label: 'State', value: (u) => (u.disabledAtMs === null ? 'enabled' : `disabled ${formatTime(u.disabledAtMs)}`) },
      { label: 'Action', value: (u) => (u.disabledAtMs !== null || u.id === ctx.session.user.id ? '—' : el('button', { type: 'button', class: 'secondary', text: `Disable ${u.username}`, onclick: async () => {
        if (!window.confirm(`Disable ${u.username}? They are logged out at once and cannot log in again.`)) return;
        try {
          await ctx.api('DELETE', `/v1/admin/users/${encodeURIComponent(u.id)}`);
          toast(`${u.username} is disabled.`);
          await refresh();
        } catch (error) {
          toast(`Disabling ${u.username} failed: ${error.message}`, 'error');
        }
      } })) },
    ], users, { caption: 'Console users', empty: 'No users.' }));
  };

  const username = el('input', { type: 'text', name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
  const password = el('input', { type: 'password', name: 'password', autocomplete: 'new-password' });
  const form = el('form', { novalidate: true, 'aria-labelledby': 'new-user-h' }, el('h3', { id: 'new-user-h', text: 'Add a user' }),
    field('Username', username, '3–64 letters, digits, ".", "_", "@" or "-"; an e-mail address fits.'),
    field('Password', password, 'At least 12 characters. Give it to them in person; they cannot change it here.'),
    choiceGroup('Role', 'role', ROLES, { type: 'radio', selected: 'marketer' }),
    el('div', { class: 'actions' }, el('button', { type: 'submit', text: 'Add user' })));
  onApiSubmit(form, username, async () => {
    const role = form.querySelector('input[name="role"]:checked')?.value;
    const user = await ctx.api('POST', '/v1/admin/users', { username: username.value, password: password.value, role });
    toast(`Added ${user.username} (${user.role}).`);
    form.reset();
    await refresh();
  });
  return { node: el('section', { 'aria-labelledby': 'users-h' }, el('h2', { id: 'users-h', text: 'Console users' }), list, form), refresh };
}

function keySection(ctx) {
  const list = el('div');
  const refresh = async () => {
    const { principals } = await ctx.api('GET', '/v1/admin/api-keys');
    list.replaceChildren(table([
      { label: 'Name', value: (p) => p.name },
      { label: 'Role', value: (p) => p.role },
      { label: 'Created', value: (p) => formatTime(p.createdAtMs) },
      { label: 'State', value: (p) => (p.revokedAtMs === null ? 'active' : `revoked ${formatTime(p.revokedAtMs)}`) },
      { label: 'Action', value: (p) => (p.revokedAtMs !== null ? '—' : el('button', { type: 'button', class: 'secondary', text: `Revoke ${p.name}`, onclick: async () => {
        if (!window.confirm(`Revoke the API key "${p.name}"? Whatever uses it stops working.`)) return;
        try {
          await ctx.api('DELETE', `/v1/admin/api-keys/${encodeURIComponent(p.principalId)}`);
          toast(`API key ${p.name} revoked.`);
          await refresh();
        } catch (error) {
          toast(`Revoking ${p.name} failed: ${error.message}`, 'error');
        }
      } })) },
    ], principals, { caption: 'API keys', empty: 'No API keys.' }));
  };
  const name = el('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const result = el('div', { 'aria-live': 'polite' });
  const form = el('form', { novalidate: true, 'aria-labelledby': 'new-key-h' }, el('h3', { id: 'new-key-h', text: 'Issue an API key' }),
    field('Name', name, 'What uses it, such as "nightly report".'),
    choiceGroup('Role', 'role', ROLES, { type: 'radio', selected: 'analyst' }),
    el('div', { class: 'actions' }, el('button', { type: 'submit', text: 'Issue key' })));
  onApiSubmit(form, name, async () => {
    const role = form.querySelector('input[name="role"]:checked')?.value;
    const key = await ctx.api('POST', '/v1/admin/api-keys', { name: name.value, role });
    result.replaceChildren(shownOnce(`the API key "${key.name}" (${key.role}). Copy it into what uses it now; the server keeps only its hash.`, el('p', {}, el('code', { class: 'secret', text: key.key }))));
    form.reset();
    await refresh();
  });
  return { node: el('section', { 'aria-labelledby': 'keys-h' }, el('h2', { id: 'keys-h', text: 'API keys for machines' }), list, form, result), refresh };
}

export default {
  id: 'users',
  title: 'Users',
  permission: 'principals.manage',
  async render(main, ctx) {
    main.append(heading('Users and API keys'));
    const users = userSection(ctx);
    const keys = keySection(ctx);
    main.append(users.node, keys.node);
    await Promise.all([users.refresh(), keys.refresh()]);
  },
};
