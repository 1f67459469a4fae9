/*
 * frontdesk staff sign-in (web/login.html). POST /api/login {"name","password"} (docs/staff-protocol.md),
 * then on to the `next` query parameter when it is a path on this origin, else /staff.
 * Strict-CSP friendly: no inline script or style; server text only ever goes in with textContent.
 */
(() => {
  'use strict';

  const form = document.getElementById('login-form');
  const nameInput = document.getElementById('login-name');
  const passInput = document.getElementById('login-password');
  const submit = document.getElementById('login-submit');
  const errorBox = document.getElementById('login-error');
  const infoBox = document.getElementById('login-info');
  const params = new URLSearchParams(location.search);

  // Where to go after signing in: only a path on this origin ("/staff", "/staff?x#y"), never
  // "//evil.example" or "/\evil.example" (both are read as another host), never another scheme.
  function safeNext(raw) {
    const fallback = '/staff';
    if (typeof raw !== 'string' || !raw.startsWith('/')) return fallback;
    if (raw.startsWith('//') || raw.startsWith('/\\')) return fallback;
    if (/[\u0000-\u001f\u007f\\]/.test(raw)) return fallback; // eslint-disable-line no-control-regex
    let u;
    try { u = new URL(raw, location.origin); } catch (_) { return fallback; }
    if (u.origin !== location.origin) return fallback;
    if (u.pathname === '/login' || u.pathname === '/login.html') return fallback; // no loop back here
    return u.pathname + u.search + u.hash;
  }
  // A link to one chat (/staff#c_..., as the webhooks send) comes through the redirect to this page
  // with its fragment still on the address: keep it, so the console opens that chat.
  let NEXT = safeNext(params.get('next'));
  if (!NEXT.includes('#') && /^#[\w-]{1,200}$/.test(location.hash)) NEXT += location.hash;

  function minutes(seconds) {
    const n = Math.max(1, Math.ceil((Number(seconds) || 60) / 60));
    return n === 1 ? '1 minute' : n + ' minutes';
  }

  function clearError() {
    errorBox.replaceChildren();
    errorBox.classList.remove('is-shown');
    for (const el of [nameInput, passInput]) {
      el.removeAttribute('aria-invalid');
      el.removeAttribute('aria-describedby');
    }
  }

  // The role=alert region is always in the page; putting text in it is what gets announced.
  function showError(text, fields, focusEl) {
    errorBox.replaceChildren();
    const p = document.createElement('p');
    p.id = 'login-error-text';
    p.textContent = text;
    errorBox.append(p);
    errorBox.classList.add('is-shown');
    for (const el of fields) {
      el.setAttribute('aria-invalid', 'true');
      el.setAttribute('aria-describedby', 'login-error-text');
    }
    if (focusEl) focusEl.focus();
  }

  function setBusy(busy) {
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
    submit.setAttribute('aria-disabled', busy ? 'true' : 'false');
    submit.textContent = busy ? 'Signing in…' : 'Sign in';
  }

  if (params.get('expired') === '1') {
    infoBox.textContent = 'Your session ended. Please sign in again.';
  } else if (params.get('signed_out') === '1') {
    infoBox.textContent = 'You are signed out.';
  }

  // Already signed in (e.g. a second tab): straight on.
  fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' })
    .then((res) => { if (res.ok) location.replace(NEXT); })
    .catch(() => { /* offline: the form still works once back */ });

  let busy = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (busy) return;
    clearError();
    const name = nameInput.value.trim();
    const password = passInput.value;
    if (!name && !password) { showError('Enter your name and password.', [nameInput, passInput], nameInput); return; }
    if (!name) { showError('Enter your name.', [nameInput], nameInput); return; }
    if (!password) { showError('Enter your password.', [passInput], passInput); return; }

    busy = true;
    setBusy(true);
    let res;
    let body = null;
    try {
      res = await fetch('/api/login', {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        // the page's Referrer-Policy is no-referrer, which would make the Origin header "null";
        // same-origin keeps it our own origin, which the server checks
        referrerPolicy: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ name, password }),
      });
      try { body = await res.json(); } catch (_) { body = null; }
    } catch (_) {
      busy = false;
      setBusy(false);
      showError('Could not reach the server. Check your connection and try again.', [], submit);
      return;
    }

    if (res.ok) {
      infoBox.textContent = 'Signed in. Opening the console…';
      location.replace(NEXT);
      return;
    }
    busy = false;
    setBusy(false);
    const code = body && typeof body.error === 'string' ? body.error : '';
    if (res.status === 429 || code === 'rate_limited') {
      const retry = body && body.retry_after !== undefined ? body.retry_after : res.headers.get('Retry-After');
      showError('Too many attempts. Try again in ' + minutes(retry) + '.', [], nameInput);
    } else if (res.status === 401 || code === 'bad_credentials') {
      passInput.value = '';
      showError('Wrong name or password. Check both and try again.', [nameInput, passInput], passInput);
    } else {
      const msg = body && typeof body.message === 'string' && body.message ? body.message : '';
      showError('Sign-in failed' + (msg ? ': ' + msg : ' (error ' + res.status + ')') + '. Please try again.', [], nameInput);
    }
  });

  nameInput.focus();
})();
