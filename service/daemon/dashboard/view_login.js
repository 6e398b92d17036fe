// The login form: shown when GET /api/v1/session answers 401. The token
// goes to POST /ui/login, which keeps it in an HttpOnly cookie; the page
// never stores it. Without JavaScript the form posts itself (303 back).
import * as api from './api.js';
import {h, replace} from './dom.js';

export function renderLogin(main, onLoggedIn) {
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help',
  });
  const message = h('p', {class: 'form-error', id: 'login-error', role: 'alert'});
  const form = h(
    'form',
    {method: 'post', action: '/ui/login', class: 'login', id: 'login'},
    h('label', {for: 'token'}, 'Access token'),
    input,
    h('p', {id: 'token-help', class: 'help'}, 'Made with ', h('code', null, 'slipway token create NAME --scope read|operate'), '.'),
    h('button', {type: 'submit'}, 'Log in'),
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.textContent = '';
    try {
      if (await api.login(input.value.trim())) {
        input.value = '';
        onLoggedIn();
      } else {
        message.textContent = 'That token is not valid.';
        input.focus();
      }
    } catch (e) {
      message.textContent = e.message;
    }
  });
  replace(main, h('h1', null, 'Log in'), form);
  input.focus();
  return null;
}
