import { ApiFailure, logIn } from '../api.js';
import { alertBox, el, field, showError } from '../ui.js';

// The login form: on the login page (no session) and in the dialog that opens when a session expires
// mid-edit (app.js). Wrong credentials and a locked account answer 401 with a message, shown at the top.

export function loginForm({ onLoggedIn, message }) {
  const username = el('input', { name: 'username', type: 'text', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { type: 'submit', text: 'Log in' });
  const form = el('form', { class: 'login-form', novalidate: true, 'aria-label': 'Log in' },
    message ? alertBox(message, 'info') : null,
    field('Username', username),
    field('Password', password),
    el('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await logIn(username.value.trim(), password.value);
      password.value = '';
      onLoggedIn();
    } catch (error) {
      const shown = error instanceof ApiFailure ? error : new ApiFailure(0, 'ERROR', String(error?.message ?? error));
      (showError(form, shown) ?? username).focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
