/*
 * frontdesk admin (web/admin.html, served at /admin to admins only): curate the knowledge base
 * (with answer recall: who got an entry's old text), try questions, work the unanswered inbox, read
 * the analytics, keep the synonyms, manage users, the settings (threshold, retention, opening hours,
 * patient messages), the audit log and import/export. Speaks the JSON API of docs/admin-api.md; the session and its CSRF token come from
 * GET /api/me (docs/staff-protocol.md).
 *
 * Strict-CSP friendly: no inline script or style, no innerHTML anywhere. Every piece of server text
 * (answers, questions, names, audit details) goes into the page with textContent: an answer that
 * holds "<script>" is shown as those characters, never run.
 *
 * The revision comparison uses jsdiff (web/vendor/diff.min.js, global `Diff`), word by word; the
 * analytics charts Chart.js (web/vendor/chart.umd.js, global `Chart`), which sizes its canvases
 * through the CSSOM (allowed by a strict style-src). Every chart has its numbers beside it as text:
 * a summary sentence and a table (visually hidden until asked for), the canvas itself aria-hidden.
 */
(() => {
  'use strict';

  const LOGIN_URL = '/login?next=' + encodeURIComponent('/admin');
  const SECTIONS = ['entries', 'try', 'inbox', 'analytics', 'synonyms', 'users', 'settings', 'audit', 'import'];
  const MAX_QUESTION = 500;
  const MAX_ANSWER = 20000;
  const MAX_ALTERNATES = 50;
  const MAX_IMPORT = 8 * 1024 * 1024;
  const AUDIT_PAGE = 50;
  const ID_RE = /^[a-z0-9_-]{1,64}$/;

  const DECISIONS = {
    answer: 'Answered from the knowledge base',
    handoff: 'Handed to staff',
    emergency: 'Emergency instructions',
  };
  const REASONS = {
    none: '',
    low_confidence: 'not confident enough',
    asked_for_person: 'the patient asked for a person',
    emergency: 'an emergency',
    review_due: 'the entry was past its review date',
  };
  const ACTIONS = {
    login: 'Signed in',
    logout: 'Signed out',
    'entry.publish': 'Published an entry',
    'entry.draft': 'Saved a draft',
    'entry.archive': 'Archived an entry',
    'inbox.dismiss': 'Dismissed from the inbox',
    'kb.import': 'Imported entries',
    'user.add': 'Added a user',
    'user.disable': 'Disabled a user',
    'user.enable': 'Enabled a user',
    'user.password': 'Reset a password',
    'settings.threshold': 'Changed the threshold',
    'settings.retention_days': 'Changed how long conversations are kept',
    'settings.hours': 'Changed the opening hours',
    'settings.messages': 'Changed the patient messages',
    'settings.synonyms': 'Changed the synonyms',
  };
  // words left out of a suggested entry id ("Do you sell gift cards?" -> "sell-gift-cards")
  const STOP = new Set(('a an the do does did you your yours i im i\'m me my we our us can could would should ' +
    'is are was were be been to of for in on at by with and or if it its this that there any some what ' +
    'whats how when where which who why will have has get got please hi hello there tell know').split(' '));

  // ---------------------------------------------------------------- DOM helpers
  const $ = (id) => document.getElementById(id);
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
    return el;
  }
  const chars = (s) => [...String(s)].length; // what the server counts: characters, not UTF-16 units

  function fmtTime(v) {
    let t = null;
    if (typeof v === 'number') t = v > 1e11 ? v : v * 1000; // ms or unix seconds
    else if (typeof v === 'string') { const p = Date.parse(v); t = Number.isNaN(p) ? null : p; }
    if (t === null) return '';
    return new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }
  const fmtScore = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(2) : '–');
  const today = () => new Date().toISOString().slice(0, 10);

  // A message in a role=status / role=alert region: putting the text in is what gets announced.
  function say(el, text) {
    el.textContent = '';
    if (text) {
      // a fresh node, so that the same message twice is announced twice
      el.append(h('span', { text }));
    }
    el.classList.toggle('is-shown', !!text);
  }

  // ---------------------------------------------------------------- the API
  let csrf = '';
  let me = null;

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function goLogin(expired) {
    const hash = /^#[\w-]{1,200}$/.test(location.hash) ? location.hash : '';
    location.replace(LOGIN_URL + (expired ? '&expired=1' : '') + hash);
  }

  async function refreshMe() {
    const res = await fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401) { goLogin(true); throw new ApiError(401, 'no_session', 'Your session ended. Sign in again.'); }
    if (!res.ok) throw new ApiError(res.status, 'me', 'The server did not say who you are (error ' + res.status + ').');
    const body = await res.json();
    csrf = body.csrf;
    me = body.user;
    return body;
  }

  // method, path, body (object: JSON; string with raw: sent as is). Resolves the JSON answer;
  // rejects with ApiError {status, code, message}. 401 sends the browser to the sign-in page.
  async function api(method, path, body, { raw = false, retried = false } = {}) {
    const headers = { Accept: 'application/json' };
    const opts = {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      // the page's Referrer-Policy is no-referrer, which would make the Origin header "null";
      // same-origin keeps it our own origin, which the server checks on every change
      referrerPolicy: 'same-origin',
    };
    if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
    // every change carries a body, "{}" when it needs nothing: the server drops the connection
    // (after acting) on a POST with Content-Length: 0
    if (method !== 'GET' && body === undefined) body = {};
    if (body !== undefined) {
      headers['Content-Type'] = raw ? 'application/x-ndjson' : 'application/json';
      opts.body = raw ? body : JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (_) {
      throw new ApiError(0, 'network', 'Could not reach the server. Check your connection and try again.');
    }
    let json = null;
    try { json = await res.json(); } catch (_) { json = null; }
    if (res.ok) return json;
    const code = json && typeof json.error === 'string' ? json.error : 'http_' + res.status;
    const message = json && typeof json.message === 'string' && json.message ? json.message : 'error ' + res.status;
    if (res.status === 401) {
      goLogin(true);
      throw new ApiError(401, code, 'Your session ended. Sign in again.');
    }
    // a new session in another tab has a new token: fetch it and try once more
    if (res.status === 403 && code === 'csrf' && !retried) {
      await refreshMe();
      return api(method, path, body, { raw, retried: true });
    }
    if (res.status === 403) throw new ApiError(403, code, 'Only admins can do this.');
    throw new ApiError(res.status, code, message);
  }

  const entryPath = (id) => '/api/admin/entries/' + encodeURIComponent(id);

  // ---------------------------------------------------------------- sections (left nav)
  const navLinks = [...document.querySelectorAll('#nav-list a[data-section]')];
  const pageError = $('page-error');
  let current = null;
  let started = false;

  function showSection(name, { focus = false } = {}) {
    for (const sec of document.querySelectorAll('section.section')) sec.hidden = sec.dataset.section !== name;
    for (const a of navLinks) {
      if (a.dataset.section === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const changed = current !== name;
    current = name;
    document.title = (navLinks.find((a) => a.dataset.section === name)?.firstChild?.textContent.trim() || 'Admin') +
      ' — frontdesk admin';
    if (focus && changed) $(name + '-title')?.focus();
    if (name === 'inbox') loadInbox();
    else if (name === 'analytics') loadAnalytics();
    else if (name === 'synonyms') loadSynonyms();
    else if (name === 'users') loadUsers();
    else if (name === 'settings') loadSettings();
    else if (name === 'audit') loadAudit(true);
  }

  // Switches section from code (no hashchange: the caller moves the focus itself).
  function goSection(name) {
    if (current === name) return;
    history.pushState(null, '', '#' + name);
    showSection(name);
  }

  function route() {
    let raw = location.hash.replace(/^#/, '');
    try { raw = decodeURIComponent(raw); } catch (_) { /* a hand-typed %: use it as it is */ }
    const [name, ...rest] = raw.split('/');
    if (!SECTIONS.includes(name)) {
      if (!current) showSection('entries');
      return;
    }
    showSection(name, { focus: started });
    if (name === 'entries' && rest.length && rest.join('/') !== (editing && editing.id)) {
      requestOpen(rest.join('/'));
    }
  }
  window.addEventListener('hashchange', route);

  // ================================================================ 1. entries
  const fQ = $('f-q');
  const fCategory = $('f-category');
  const fStatus = $('f-status');
  const entryList = $('entry-list');
  const entriesCount = $('entries-count');
  const editor = $('editor');
  const editorEmpty = $('editor-empty');
  const editorTitle = $('editor-title');
  const editorState = $('editor-state');
  const editorNotice = $('editor-notice');
  const editorStatus = $('editor-status');
  const editorError = $('editor-error');
  const conflictBox = $('editor-conflict');
  const unsavedBox = $('unsaved');
  const eId = $('e-id');
  const eQuestion = $('e-question');
  const eAlternates = $('e-alternates');
  const eAnswer = $('e-answer');
  const eCategory = $('e-category');
  const eLang = $('e-lang');
  const eReview = $('e-review');
  const eOwner = $('e-owner');
  const answerCount = $('e-answer-count');
  const btnPublish = $('btn-publish');
  const btnDraft = $('btn-draft');
  const btnArchive = $('btn-archive');
  const archiveConfirm = $('archive-confirm');
  const revisionsBox = $('revisions');
  const revList = $('rev-list');
  const diffBox = $('diff-box');

  let allEntries = [];    // the whole list (no filter): categories, the "add as alternate" picker, id suggestions
  let shownEntries = [];
  let listSeq = 0;
  // what the editor holds: { id, isNew, entry, revisions, baseRevision, fromInbox }
  let editing = null;
  let dirty = false;
  let unsavedDoc = null;  // the admin's own text, kept across a reload after a conflict
  let busy = false;

  async function loadAllEntries() {
    const res = await api('GET', '/api/admin/entries');
    allEntries = res.entries || [];
    const cats = [...new Set(allEntries.map((e) => e.category))].sort();
    const keep = fCategory.value;
    fCategory.replaceChildren(h('option', { value: '', text: 'All categories' }),
      ...cats.map((c) => h('option', { value: c, text: c })));
    fCategory.value = cats.includes(keep) ? keep : '';
    $('category-options').replaceChildren(...cats.map((c) => h('option', { value: c })));
  }

  async function loadEntries() {
    const seq = ++listSeq;
    const q = new URLSearchParams();
    if (fQ.value.trim()) q.set('q', fQ.value.trim());
    if (fCategory.value) q.set('category', fCategory.value);
    if (fStatus.value) q.set('status', fStatus.value);
    entryList.setAttribute('aria-busy', 'true');
    try {
      const res = await api('GET', '/api/admin/entries' + (q.toString() ? '?' + q : ''));
      if (seq !== listSeq) return; // an older answer after a newer one: drop it
      shownEntries = res.entries || [];
      if (!q.toString()) allEntries = shownEntries;
      renderEntryList();
    } catch (err) {
      if (seq === listSeq) say(entriesCount, 'The entries could not be loaded: ' + err.message);
    } finally {
      if (seq === listSeq) entryList.setAttribute('aria-busy', 'false');
    }
  }

  function badge(text, kind) {
    return h('span', { class: 'badge badge--' + kind, text });
  }

  function renderEntryList() {
    const t = today();
    entryList.replaceChildren(...shownEntries.map((e) => {
      const badges = h('span', { class: 'entry-badges' });
      if (e.status !== 'published') badges.append(badge(e.status === 'draft' ? 'Draft' : 'Archived', e.status));
      if (e.draft) badges.append(badge('Unpublished changes', 'draft'));
      if (e.review_due || (e.review_due === undefined && e.review_by && e.review_by < t)) badges.append(badge('Review due', 'due'));
      const btn = h('button', {
        type: 'button', class: 'entry-item', 'data-id': e.id,
        'aria-current': editing && !editing.isNew && editing.id === e.id ? 'true' : null,
        onclick: () => requestOpen(e.id),
      },
      h('span', { class: 'entry-q', text: e.question }),
      h('span', { class: 'entry-meta', text: e.id + ' · ' + e.category + ' · ' + e.lang }),
      badges.childNodes.length ? badges : null);
      return h('li', null, btn);
    }));
    const n = shownEntries.length;
    const filtered = fQ.value.trim() || fCategory.value || fStatus.value;
    say(entriesCount, n === 0 ? (filtered ? 'No entry matches.' : 'No entries yet.')
      : n + (n === 1 ? ' entry' : ' entries') + (filtered ? ' match' + (n === 1 ? 'es' : '') : ''));
  }

  function markCurrentInList() {
    for (const b of entryList.querySelectorAll('.entry-item')) {
      if (editing && !editing.isNew && b.dataset.id === editing.id) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  }

  let filterTimer = 0;
  fQ.addEventListener('input', () => { clearTimeout(filterTimer); filterTimer = setTimeout(loadEntries, 250); });
  fCategory.addEventListener('change', loadEntries);
  fStatus.addEventListener('change', loadEntries);
  $('entry-filter').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(filterTimer); loadEntries(); });

  // ---- the form
  function fillForm(doc) {
    eId.value = doc.id || '';
    eQuestion.value = doc.question || '';
    eAlternates.value = (doc.alternates || []).join('\n');
    eAnswer.value = doc.answer || '';
    eCategory.value = doc.category || '';
    eLang.value = doc.lang === 'es' ? 'es' : 'en';
    eReview.value = doc.review_by || '';
    eOwner.value = doc.owner || '';
    updateCount();
  }

  function readForm() {
    const seen = new Set();
    const alternates = [];
    for (const line of eAlternates.value.split('\n')) {
      const a = line.trim();
      if (a && !seen.has(a.toLowerCase())) { seen.add(a.toLowerCase()); alternates.push(a); }
    }
    return {
      id: eId.value.trim(),
      question: eQuestion.value.trim(),
      alternates,
      answer: eAnswer.value.trim(),
      category: eCategory.value.trim() || 'general',
      lang: eLang.value,
      review_by: eReview.value || null,
      owner: eOwner.value.trim() || null,
    };
  }

  function updateCount() {
    const n = chars(eAnswer.value);
    answerCount.textContent = n.toLocaleString() + ' / ' + MAX_ANSWER.toLocaleString() + ' characters';
    answerCount.classList.toggle('is-over', n > MAX_ANSWER);
  }
  eAnswer.addEventListener('input', updateCount);
  editor.addEventListener('input', () => { dirty = true; });
  editor.addEventListener('change', () => { dirty = true; });
  window.addEventListener('beforeunload', (e) => {
    if (dirty || synDirty || hoursDirty || messagesDirty) { e.preventDefault(); e.returnValue = ''; }
  });

  const FIELDS = [eId, eQuestion, eAlternates, eAnswer, eCategory, eLang, eReview, eOwner];
  function clearFieldErrors() {
    for (const el of FIELDS) {
      el.removeAttribute('aria-invalid');
      const err = $(el.id + '-error');
      if (err) err.remove();
      const desc = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== el.id + '-error');
      if (desc.length) el.setAttribute('aria-describedby', desc.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  }
  function setFieldError(el, text) {
    el.setAttribute('aria-invalid', 'true');
    let err = $(el.id + '-error');
    if (!err) {
      err = h('p', { id: el.id + '-error', class: 'field-error' });
      el.insertAdjacentElement('afterend', err);
    }
    err.textContent = text;
    const desc = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    if (!desc.includes(err.id)) el.setAttribute('aria-describedby', [err.id, ...desc].join(' '));
  }

  function validate(doc, isNew) {
    const errs = [];
    if (isNew && !ID_RE.test(doc.id)) {
      errs.push([eId, doc.id ? 'The ID may hold only a-z, 0-9, - and _ (at most 64).' : 'Give the entry an ID.']);
    }
    if (!doc.question) errs.push([eQuestion, 'Write the question.']);
    else if (chars(doc.question) > MAX_QUESTION) errs.push([eQuestion, 'The question is over ' + MAX_QUESTION + ' characters.']);
    if (doc.alternates.length > MAX_ALTERNATES) {
      errs.push([eAlternates, 'At most ' + MAX_ALTERNATES + ' other ways to ask (there are ' + doc.alternates.length + ').']);
    } else {
      const long = doc.alternates.findIndex((a) => chars(a) > MAX_QUESTION);
      if (long >= 0) errs.push([eAlternates, 'Line ' + (long + 1) + ' is over ' + MAX_QUESTION + ' characters.']);
    }
    if (!doc.answer) errs.push([eAnswer, 'Write the answer.']);
    else if (chars(doc.answer) > MAX_ANSWER) errs.push([eAnswer, 'The answer is over ' + MAX_ANSWER.toLocaleString() + ' characters.']);
    if (doc.review_by && !/^\d{4}-\d{2}-\d{2}$/.test(doc.review_by)) errs.push([eReview, 'Use a date.']);
    return errs;
  }

  function clearEditorMessages() {
    clearFieldErrors();
    say(editorStatus, '');
    say(editorError, '');
    conflictBox.hidden = true;
    archiveConfirm.hidden = true;
  }

  function setBusy(on) {
    busy = on;
    editor.setAttribute('aria-busy', on ? 'true' : 'false');
    for (const b of [btnPublish, btnDraft, btnArchive]) b.setAttribute('aria-disabled', on ? 'true' : 'false');
  }

  // The doc patients get (or would get) from the entry row.
  function entryDoc(e) {
    return { id: e.id, question: e.question, alternates: e.alternates || [], answer: e.answer, category: e.category,
      lang: e.lang, review_by: e.review_by || null, owner: e.owner || null };
  }

  function stateText() {
    if (editing.isNew) return [['New: not saved yet', 'draft']];
    const e = editing.entry;
    const latest = editing.revisions[0];
    const out = [];
    if (e.status === 'archived') out.push(['Archived: patients don’t get it; publish to bring it back', 'archived']);
    else if (e.status === 'draft') out.push(['Draft: never published, patients don’t get it', 'draft']);
    else out.push(['Published: patients get revision ' + e.revision, 'published']);
    if (latest && latest.revision > e.revision && latest.status === 'draft' && e.status !== 'draft') {
      out.push(['The form shows the unpublished draft, revision ' + latest.revision, 'draft']);
    }
    if (e.review_by && e.review_by < today()) {
      out.push(['Review was due ' + e.review_by + ': its questions go to staff until it is reviewed', 'due']);
    }
    return out;
  }

  function renderEditorHead() {
    editorTitle.textContent = editing.isNew ? 'New entry' : 'Edit: ' + editing.id;
    editorState.replaceChildren(...stateText().map(([t, k]) => badge(t, k)));
    eId.readOnly = !editing.isNew;
    eId.classList.toggle('is-readonly', !editing.isNew);
    $('e-id-hint').textContent = editing.isNew
      ? 'Lower-case letters, digits, - and _. It cannot be changed later.'
      : 'The ID cannot be changed.';
    btnArchive.hidden = editing.isNew || editing.entry.status === 'archived';
  }

  function showEditor() {
    editorEmpty.hidden = true;
    editor.hidden = false;
  }

  function confirmDiscard() {
    if (!dirty || !editing) return true;
    return window.confirm('Discard your unsaved changes to ' + (editing.isNew ? 'the new entry' : editing.id) + '?');
  }

  function requestOpen(id) {
    if (editing && !editing.isNew && editing.id === id && !dirty) {
      goSection('entries');
      editorTitle.focus();
      return;
    }
    if (!confirmDiscard()) return;
    goSection('entries');
    openEntry(id, { focus: true });
  }

  // Loads an entry into the editor: its newest revision (an unpublished draft when there is one),
  // and base_revision = that newest revision, which a save must name.
  async function openEntry(id, { focus = false, keepUnsaved = false } = {}) {
    let data;
    try {
      data = await api('GET', entryPath(id));
    } catch (err) {
      const text = err.status === 404 ? 'There is no entry “' + id + '”.' : 'The entry could not be loaded: ' + err.message;
      // with an entry open, the message goes with it; else above the page
      if (editing && !editor.hidden) say(editorError, text);
      else say(pageError, text);
      return false;
    }
    say(pageError, '');
    const revisions = data.revisions || [];
    const latest = revisions[0];
    editing = {
      id, isNew: false, entry: data.entry, revisions,
      baseRevision: latest ? latest.revision : data.entry.revision, fromInbox: null,
    };
    const doc = latest && latest.revision > data.entry.revision && latest.status === 'draft' && latest.doc
      ? { ...entryDoc(data.entry), review_by: null, owner: null, ...latest.doc }
      : entryDoc(data.entry);
    clearEditorMessages();
    editorNotice.hidden = true;
    if (!keepUnsaved) { unsavedDoc = null; unsavedBox.hidden = true; }
    fillForm(doc);
    dirty = false;
    renderEditorHead();
    renderRevisions();
    diffBox.hidden = true;
    showEditor();
    loadRecall();
    markCurrentInList();
    history.replaceState(null, '', '#entries/' + encodeURIComponent(id));
    if (focus) editorTitle.focus();
    return true;
  }

  function suggestId(text) {
    const words = String(text).toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '')
      .split(/[^a-z0-9]+/).filter((w) => w && !STOP.has(w));
    let base = words.slice(0, 5).join('-').slice(0, 56).replace(/-+$/, '') || 'entry';
    const taken = new Set(allEntries.map((e) => e.id));
    let id = base;
    for (let n = 2; taken.has(id); n++) id = base + '-' + n;
    return id;
  }

  function newEntry(prefill = {}, { fromInbox = null, notice = '' } = {}) {
    editing = { id: '', isNew: true, entry: null, revisions: [], baseRevision: 0, fromInbox };
    clearEditorMessages();
    unsavedDoc = null;
    unsavedBox.hidden = true;
    fillForm({ lang: 'en', ...prefill });
    dirty = false;
    renderEditorHead();
    revisionsBox.hidden = true;
    recallBox.hidden = true;
    recallSeq++;
    editorNotice.textContent = notice;
    editorNotice.hidden = !notice;
    showEditor();
    markCurrentInList();
    history.replaceState(null, '', '#entries');
  }

  $('entry-new').addEventListener('click', () => {
    if (!confirmDiscard()) return;
    newEntry({}, {});
    eId.focus();
  });

  async function save(publish) {
    if (busy || !editing) return;
    clearEditorMessages();
    const doc = readForm();
    const errs = validate(doc, editing.isNew);
    if (errs.length) {
      for (const [el, text] of errs) setFieldError(el, text);
      say(editorError, 'Not saved: ' + (errs.length === 1 ? 'one field needs' : errs.length + ' fields need') + ' a fix.');
      errs[0][0].focus();
      return;
    }
    setBusy(true);
    const wasNew = editing.isNew;
    const fromInbox = editing.fromInbox;
    const body = { ...doc, publish };
    let res;
    try {
      if (wasNew) res = await api('POST', '/api/admin/entries', body);
      else res = await api('PUT', entryPath(editing.id), { ...body, id: editing.id, base_revision: editing.baseRevision });
    } catch (err) {
      setBusy(false);
      if (err.status === 409 && !wasNew) {
        // someone saved since this was opened: keep every character the admin typed
        conflictBox.hidden = false;
        $('conflict-reload').focus();
      } else if (err.status === 409) {
        setFieldError(eId, 'An entry with this ID exists already: choose another.');
        say(editorError, 'Not saved: the ID “' + doc.id + '” is taken.');
        eId.focus();
      } else if (err.status === 413) {
        say(editorError, 'Not saved: the entry is too big for the server (64 KiB at most).');
      } else {
        const field = /\bid\b/i.test(err.message) ? eId : /alternate/i.test(err.message) ? eAlternates
          : /answer/i.test(err.message) ? eAnswer : /question/i.test(err.message) ? eQuestion
            : /review_by/.test(err.message) ? eReview : /owner/.test(err.message) ? eOwner : null;
        if (field && err.status === 400) setFieldError(field, err.message);
        say(editorError, 'Not saved: ' + err.message);
      }
      return;
    }
    dirty = false;
    const id = wasNew ? doc.id : editing.id;
    await openEntry(id, { keepUnsaved: false });
    setBusy(false);
    let msg = publish
      ? 'Published “' + doc.question + '” as revision ' + res.revision + '. Patients get it from their next question.'
      : 'Draft saved as revision ' + res.revision + '. ' +
        (editing.entry.status === 'published' ? 'Patients still get revision ' + editing.entry.revision + '.'
          : 'Patients don’t get it until you publish.');
    if (publish && fromInbox) {
      try {
        await api('POST', '/api/admin/inbox/dismiss', { key: fromInbox });
        msg += ' The question is off the unanswered list.';
        loadInbox({ quiet: true });
      } catch (_) { /* the entry is saved; the inbox item just stays */ }
    }
    say(editorStatus, msg);
    await loadAllEntries().catch(() => {});
    loadEntries();
  }

  // Enter in a field must not publish: only the buttons save
  editor.addEventListener('submit', (e) => e.preventDefault());
  btnPublish.addEventListener('click', () => save(true));
  btnDraft.addEventListener('click', () => save(false));

  // ---- conflict: reload, keeping the admin's text beside the latest version
  function docFields(doc) {
    const rows = [
      ['Question', doc.question],
      ['Other ways to ask', (doc.alternates || []).join('\n') || '(none)'],
      ['Answer', doc.answer],
      ['Category', doc.category],
      ['Language', doc.lang],
    ];
    if (doc.review_by) rows.push(['Review by', doc.review_by]);
    if (doc.owner) rows.push(['Owner', doc.owner]);
    return rows;
  }

  $('conflict-reload').addEventListener('click', async () => {
    unsavedDoc = readForm();
    unsavedDoc.id = editing.id;
    const ok = await openEntry(editing.id, { keepUnsaved: true });
    if (!ok) return;
    $('unsaved-doc').replaceChildren(...docFields(unsavedDoc).flatMap(([k, v]) =>
      [h('dt', { text: k }), h('dd', { text: v })]));
    unsavedBox.hidden = false;
    const latest = editing.revisions[0];
    say(editorStatus, 'Reloaded: the form shows the latest version' +
      (latest ? ' (revision ' + latest.revision + ' by ' + latest.author + ')' : '') + '. Your edit is kept above it.');
    $('unsaved-restore').focus();
  });
  $('unsaved-restore').addEventListener('click', () => {
    if (!unsavedDoc) return;
    fillForm({ ...unsavedDoc, id: editing.id });
    dirty = true;
    say(editorStatus, 'Your text is back in the form. Save draft or Publish to save it over revision ' +
      editing.baseRevision + '.');
    eQuestion.focus();
  });
  $('unsaved-compare').addEventListener('click', () => {
    if (!unsavedDoc) return;
    showDiff('Your unsaved edit (removed) compared with the form (added)', docText(unsavedDoc), docText(readForm()));
  });
  $('unsaved-drop').addEventListener('click', () => {
    unsavedDoc = null;
    unsavedBox.hidden = true;
    say(editorStatus, 'Your unsaved edit was discarded.');
    editorTitle.focus();
  });

  // ---- archive (asks first, in the page)
  btnArchive.addEventListener('click', () => {
    if (busy || !editing || editing.isNew) return;
    $('archive-confirm-text').textContent = 'Archive “' + editing.entry.question +
      '”? Patients stop getting this answer at once. You can publish it again later.';
    archiveConfirm.hidden = false;
    $('archive-yes').focus();
  });
  $('archive-no').addEventListener('click', () => { archiveConfirm.hidden = true; btnArchive.focus(); });
  $('archive-yes').addEventListener('click', async () => {
    if (busy) return;
    archiveConfirm.hidden = true;
    setBusy(true);
    try {
      await api('POST', entryPath(editing.id) + '/archive');
    } catch (err) {
      setBusy(false);
      say(editorError, 'Not archived: ' + err.message);
      return;
    }
    await openEntry(editing.id);
    setBusy(false);
    say(editorStatus, 'Archived: patients no longer get this answer.');
    editorTitle.focus();
    await loadAllEntries().catch(() => {});
    loadEntries();
  });

  // ---- revisions, comparison, restore
  function renderRevisions() {
    const e = editing.entry;
    const live = e.status === 'published' ? e.revision : null;
    revisionsBox.hidden = editing.revisions.length === 0;
    revList.replaceChildren(...editing.revisions.map((r) => {
      const isLive = r.revision === live;
      const newerDraft = r.status === 'draft' && r.revision > e.revision;
      const actions = h('div', { class: 'rev-actions' },
        h('button', {
          type: 'button', class: 'btn btn-small', text: 'Compare',
          'aria-label': 'Compare revision ' + r.revision + ' with the text in the form',
          onclick: () => compareRevision(r),
        }),
        isLive ? null : h('button', {
          type: 'button', class: 'btn btn-small',
          text: newerDraft || e.status === 'draft' ? 'Publish this draft' : 'Restore',
          'aria-label': (newerDraft || e.status === 'draft' ? 'Publish draft revision ' : 'Restore revision ') + r.revision,
          onclick: () => restoreRevision(r),
        }));
      return h('li', { class: 'rev' + (isLive ? ' rev--live' : ''), 'data-revision': r.revision },
        h('div', { class: 'rev-head' },
          h('span', { class: 'rev-num', text: 'Revision ' + r.revision }),
          badge(r.status === 'draft' ? 'draft' : 'published', r.status === 'draft' ? 'draft' : 'published'),
          isLive ? badge('live', 'live') : null),
        h('p', { class: 'rev-meta', text: 'by ' + r.author + ' · ' + fmtTime(r.created_at) }),
        actions);
    }));
  }

  // A doc as the text compared: one field a line, the alternates one a line.
  function docText(doc) {
    const d = doc || {};
    return [
      'Question: ' + (d.question || ''),
      'Other ways to ask:',
      ...((d.alternates || []).length ? d.alternates.map((a) => '  ' + a) : ['  (none)']),
      'Answer:',
      d.answer || '',
      'Category: ' + (d.category || 'general') + ' · Language: ' + (d.lang || 'en'),
      'Review by: ' + (d.review_by || '—') + ' · Owner: ' + (d.owner || '—'),
    ].join('\n');
  }

  function diffParts(a, b) {
    if (window.Diff && typeof window.Diff.diffWordsWithSpace === 'function') return window.Diff.diffWordsWithSpace(a, b);
    // the library did not load: the whole text, before and after
    return a === b ? [{ value: a }] : [{ value: a, removed: true }, { value: b, added: true }];
  }

  function showDiff(title, oldText, newText) {
    const parts = diffParts(oldText, newText);
    const out = $('diff-out');
    let adds = 0;
    let dels = 0;
    out.replaceChildren(...parts.map((p) => {
      if (p.added) {
        adds++;
        return h('ins', null, h('span', { class: 'visually-hidden', text: '[added: ' }), p.value,
          h('span', { class: 'visually-hidden', text: ']' }));
      }
      if (p.removed) {
        dels++;
        return h('del', null, h('span', { class: 'visually-hidden', text: '[removed: ' }), p.value,
          h('span', { class: 'visually-hidden', text: ']' }));
      }
      return document.createTextNode(p.value);
    }));
    $('diff-title').textContent = title;
    $('diff-summary').textContent = adds + dels === 0 ? 'No differences.'
      : adds + (adds === 1 ? ' addition, ' : ' additions, ') + dels + (dels === 1 ? ' removal.' : ' removals.');
    diffBox.hidden = false;
    $('diff-title').focus();
  }

  function compareRevision(r) {
    showDiff('Revision ' + r.revision + ' (removed) compared with the text in the form (added)',
      docText(r.doc), docText(readForm()));
  }
  $('diff-close').addEventListener('click', () => { diffBox.hidden = true; revList.querySelector('button')?.focus(); });

  async function restoreRevision(r) {
    if (busy) return;
    if (!confirmDiscard()) return;
    clearEditorMessages();
    setBusy(true);
    let res;
    try {
      res = await api('POST', entryPath(editing.id) + '/publish', { revision: r.revision });
    } catch (err) {
      setBusy(false);
      say(editorError, 'Not published: ' + err.message);
      return;
    }
    dirty = false;
    await openEntry(editing.id);
    setBusy(false);
    say(editorStatus, 'Revision ' + r.revision + ' is published again as revision ' + res.revision +
      '. Patients get it from their next question.');
    editorTitle.focus();
    await loadAllEntries().catch(() => {});
    loadEntries();
  }

  // ---- answer recall: the conversations that got an older text of the entry
  const recallBox = $('recall');
  const recallDays = $('recall-days');
  const recallBody = $('recall-body');
  const recallTable = $('recall-table');
  const recallStatus = $('recall-status');
  const recallError = $('recall-error');
  let recallSeq = 0;

  async function loadRecall() {
    if (!editing || editing.isNew) { recallBox.hidden = true; return; }
    const seq = ++recallSeq;
    const id = editing.id;
    const days = Number(recallDays.value) || 30;
    recallBox.hidden = false;
    recallBox.setAttribute('aria-busy', 'true');
    say(recallError, '');
    let res;
    try {
      res = await api('GET', entryPath(id) + '/recall?days=' + days);
    } catch (err) {
      if (seq !== recallSeq) return;
      recallBox.setAttribute('aria-busy', 'false');
      recallTable.hidden = true;
      say(recallStatus, '');
      say(recallError, 'Who got the old text could not be loaded: ' + err.message);
      return;
    }
    if (seq !== recallSeq || !editing || editing.id !== id) return; // another entry meanwhile
    recallBox.setAttribute('aria-busy', 'false');
    const convs = res.conversations || [];
    const n = convs.length;
    const span = 'in the last ' + (res.days || days) + ' days';
    const now = res.current_revision ? ' Patients get revision ' + res.current_revision + ' now.' : '';
    recallBody.replaceChildren(...convs.map((c) => h('tr', { 'data-conversation': c.conversation },
      h('th', { scope: 'row' }, h('a', {
        href: '/staff#' + encodeURIComponent(c.conversation), target: '_blank', rel: 'noopener',
        class: 'conv-link',
      }, h('code', { text: c.conversation }), h('span', { class: 'visually-hidden', text: ' (opens the staff console in a new tab)' }))),
      h('td', null, h('time', { datetime: c.last_at, text: fmtTime(c.last_at) })),
      h('td', { class: 'num', text: 'revision ' + c.revision }),
      h('td', { class: 'num', text: String(c.answers) }))));
    recallTable.hidden = n === 0;
    say(recallStatus, n === 0 ? 'Nobody got an older text of this entry ' + span + '.' + now
      : n + (n === 1 ? ' conversation' : ' conversations') + ' got an older text ' + span + '.' + now);
  }
  recallDays.addEventListener('change', loadRecall);

  // ================================================================ 2. try a question
  const tryResult = $('try-result');
  const tryError = $('try-error');

  function openEntryButton(id) {
    return h('button', {
      type: 'button', class: 'link-btn', text: id, 'aria-label': 'Open the entry ' + id,
      onclick: () => requestOpen(id),
    });
  }

  function renderTry(r) {
    const decision = DECISIONS[r.decision] || r.decision;
    const reason = REASONS[r.reason] === undefined ? r.reason : REASONS[r.reason];
    const conf = Number(r.confidence);
    const thr = Number(r.threshold);
    const meter = h('meter', {
      min: 0, max: 1, value: Number.isFinite(conf) ? conf : 0, low: Number.isFinite(thr) ? thr : 0.35,
      high: Number.isFinite(thr) ? thr : 0.35, optimum: 1, 'aria-label': 'Confidence',
    });
    const parts = [
      h('p', { class: 'try-decision try-decision--' + r.decision },
        h('strong', { class: 'try-decision-name', text: decision }),
        reason ? h('span', { class: 'try-reason', text: ' (' + reason + ')' }) : null),
      h('p', { class: 'try-confidence' },
        'Confidence ', h('strong', { id: 'try-confidence', text: fmtScore(conf) }),
        ' vs threshold ', h('strong', { id: 'try-threshold', text: fmtScore(thr) }), ' ', meter),
      h('p', { class: 'try-why', id: 'try-why', text: r.why || '' }),
    ];
    if (r.entry) {
      parts.push(h('h2', { class: 'sub-title' }, 'The answer, from ', openEntryButton(r.entry)));
    }
    if (r.text) parts.push(h('p', { class: 'answer-text', id: 'try-answer', text: r.text }));
    else if (r.decision !== 'answer') parts.push(h('p', { class: 'muted', text: 'No knowledge-base answer: the patient would be handed to staff' + (r.decision === 'emergency' ? ' with the emergency instructions.' : '.') }));
    const matches = r.matches || [];
    parts.push(h('h2', { class: 'sub-title', text: 'Top matches' }));
    if (!matches.length) parts.push(h('p', { class: 'muted', text: 'Nothing in the knowledge base is close.' }));
    else {
      parts.push(h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'try-matches' },
        h('caption', { class: 'visually-hidden', text: 'Entries closest to the question, best first' }),
        h('thead', null, h('tr', null, h('th', { scope: 'col', text: '#' }), h('th', { scope: 'col', text: 'Entry' }),
          h('th', { scope: 'col', text: 'Question' }), h('th', { scope: 'col', text: 'Score' }))),
        h('tbody', null, ...matches.map((m, i) => h('tr', { class: m.score >= thr ? 'is-above' : null },
          h('td', { text: String(i + 1) }), h('td', null, openEntryButton(m.entry)),
          h('td', { text: m.question }),
          h('td', { class: 'num', text: fmtScore(m.score) + (m.score >= thr ? ' ✓' : '') })))))));
    }
    tryResult.replaceChildren(...parts);
  }

  $('try-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = $('try-text').value.trim();
    say(tryError, '');
    if (!text) { say(tryError, 'Type a question first.'); $('try-text').focus(); return; }
    tryResult.setAttribute('aria-busy', 'true');
    try {
      renderTry(await api('POST', '/api/admin/try', { text }));
    } catch (err) {
      say(tryError, 'Could not try it: ' + err.message);
    } finally {
      tryResult.setAttribute('aria-busy', 'false');
    }
  });

  // ================================================================ 3. the unanswered inbox
  const inboxList = $('inbox-list');
  const inboxStatus = $('inbox-status');
  const inboxError = $('inbox-error');
  const inboxCount = $('inbox-count');
  let inboxItems = [];
  let inboxSeq = 0;

  function setInboxCount(n) {
    inboxCount.textContent = n ? String(n) : '';
    inboxCount.hidden = !n;
    inboxCount.setAttribute('aria-label', n + (n === 1 ? ' question' : ' questions'));
  }

  async function loadInbox({ quiet = false } = {}) {
    const seq = ++inboxSeq;
    say(inboxError, '');
    try {
      const res = await api('GET', '/api/admin/inbox?days=' + encodeURIComponent($('inbox-days').value));
      if (seq !== inboxSeq) return;
      inboxItems = res.items || [];
      renderInbox();
      setInboxCount(inboxItems.length);
      if (!quiet && current === 'inbox') {
        say(inboxStatus, inboxItems.length === 0 ? 'Nothing unanswered. Well done.'
          : inboxItems.length + (inboxItems.length === 1 ? ' question' : ' questions') + ' to look at.');
      }
    } catch (err) {
      if (seq === inboxSeq) say(inboxError, 'The inbox could not be loaded: ' + err.message);
    }
  }
  $('inbox-refresh').addEventListener('click', () => loadInbox());
  $('inbox-days').addEventListener('change', () => loadInbox());

  function renderInbox() {
    inboxList.replaceChildren(...inboxItems.map((item, i) => inboxRow(item, i)));
  }

  function inboxRow(item, i) {
    const pickerId = 'alt-picker-' + i;
    const textId = 'inbox-text-' + i;
    const select = h('select', { id: 'alt-select-' + i });
    const picker = h('div', { class: 'alt-picker', id: pickerId, hidden: true },
      h('label', { for: select.id, text: 'Add as another way to ask of' }), select,
      h('div', { class: 'btn-row' },
        h('button', { type: 'button', class: 'btn btn-primary', text: 'Open it with this question added',
          onclick: () => addAsAlternate(item, select.value, select) }),
        h('button', { type: 'button', class: 'btn', text: 'Cancel',
          onclick: () => { picker.hidden = true; altBtn.setAttribute('aria-expanded', 'false'); altBtn.focus(); } })));
    const altBtn = h('button', {
      type: 'button', class: 'btn', text: 'Add as alternate of…', 'aria-expanded': 'false', 'aria-controls': pickerId,
      'aria-describedby': textId,
      onclick: () => {
        const open = picker.hidden;
        picker.hidden = !open;
        altBtn.setAttribute('aria-expanded', open ? 'true' : 'false');
        if (open) { fillPicker(select, item); select.focus(); }
      },
    });
    const meta = h('p', { class: 'inbox-meta' },
      badge(item.kind === 'unhelpful' ? 'Marked unhelpful' : 'Handed to staff', item.kind === 'unhelpful' ? 'due' : 'draft'),
      h('span', { class: 'inbox-count', text: item.count === 1 ? 'asked once' : 'asked ' + item.count + ' times' }),
      h('span', { text: 'last ' + fmtTime(item.last_at_ms) }),
      item.entry ? h('span', null, 'answered from ', openEntryButton(item.entry)) : null);
    return h('li', { class: 'inbox-item', 'data-key': item.key, 'data-kind': item.kind },
      h('p', { class: 'inbox-text', id: textId, text: item.text }),
      meta,
      h('div', { class: 'btn-row' },
        h('button', { type: 'button', class: 'btn btn-primary', text: 'Make a draft entry', 'aria-describedby': textId,
          onclick: () => makeDraftFrom(item) }),
        altBtn,
        h('button', { type: 'button', class: 'btn btn-ghost', text: 'Dismiss', 'aria-describedby': textId,
          onclick: (e) => dismiss(item, e.currentTarget) })),
      picker);
  }

  // The entries to pick from: the closest matches first (what the bot itself weighed, with their
  // scores), then every entry. Nothing is chosen for the admin, except the entry that gave an
  // answer marked unhelpful.
  async function fillPicker(select, item) {
    const byId = new Map(allEntries.map((e) => [e.id, e]));
    const option = (e, score) => h('option', {
      value: e.id, text: e.question + ' (' + e.id + (score === undefined ? '' : ', score ' + fmtScore(score)) + ')',
    });
    const all = h('optgroup', { label: 'All entries' }, ...allEntries.map((e) => option(e)));
    select.replaceChildren(h('option', { value: '', text: 'Choose an entry…' }), all);
    select.value = item.entry && byId.has(item.entry) ? item.entry : '';
    try {
      const r = await api('POST', '/api/admin/try', { text: item.text });
      const best = (r.matches || []).filter((m) => byId.has(m.entry)).slice(0, 5);
      if (best.length) {
        const keep = select.value; // the admin may have chosen already
        select.insertBefore(h('optgroup', { label: 'Closest matches' },
          ...best.map((m) => option(byId.get(m.entry), m.score))), all);
        select.value = keep;
      }
    } catch (_) { /* the full list still works */ }
  }

  function makeDraftFrom(item) {
    if (!confirmDiscard()) return;
    goSection('entries');
    newEntry({ id: suggestId(item.text), question: item.text, answer: '' }, {
      fromInbox: item.key,
      notice: 'From the unanswered inbox. Write the answer (and check the ID), then Save draft or Publish. ' +
        'Publishing takes the question off the inbox.',
    });
    eAnswer.focus();
  }

  async function addAsAlternate(item, id, select) {
    say(inboxError, '');
    if (!id) {
      say(inboxError, 'Choose the entry this question belongs to first.');
      select.focus();
      return;
    }
    if (!confirmDiscard()) return;
    goSection('entries');
    const ok = await openEntry(id);
    if (!ok) return;
    const lines = eAlternates.value.split('\n').map((s) => s.trim()).filter(Boolean);
    const already = lines.some((l) => l.toLowerCase() === item.text.trim().toLowerCase()) ||
      eQuestion.value.trim().toLowerCase() === item.text.trim().toLowerCase();
    if (!already) {
      lines.push(item.text.trim());
      eAlternates.value = lines.join('\n');
      dirty = true;
    }
    editing.fromInbox = item.key;
    editorNotice.textContent = already
      ? '“' + item.text + '” is already one of the ways to ask this. Publish to take it off the inbox.'
      : 'Added “' + item.text + '” as another way to ask (last line). Publish to make it live; that also takes it off the inbox.';
    editorNotice.hidden = false;
    eAlternates.focus();
  }

  async function dismiss(item, btn) {
    btn.setAttribute('aria-disabled', 'true');
    try {
      await api('POST', '/api/admin/inbox/dismiss', { key: item.key });
    } catch (err) {
      btn.removeAttribute('aria-disabled');
      say(inboxError, 'Not dismissed: ' + err.message);
      return;
    }
    const idx = inboxItems.indexOf(item);
    inboxItems = inboxItems.filter((x) => x !== item);
    renderInbox();
    setInboxCount(inboxItems.length);
    say(inboxStatus, 'Dismissed “' + item.text + '”.' + (inboxItems.length ? '' : ' Nothing else is unanswered.'));
    const next = inboxList.children[Math.min(idx, inboxItems.length - 1)];
    if (next) next.querySelector('button').focus();
    else $('inbox-title').focus();
  }

  // ================================================================ 3b. analytics
  const aFrom = $('a-from');
  const aTo = $('a-to');
  const aBody = $('analytics-body');
  const aStatus = $('analytics-status');
  const aError = $('analytics-error');
  const aCsv = $('analytics-csv');
  const DAY_MS = 86400000;
  const MAX_RANGE_DAYS = 400; // what the server allows
  const COLORS = { conv: '#0e6e68', answers: '#0e6e68', handoffs: '#f79009', emergencies: '#7a271a' };
  const charts = {};
  let analyticsSeq = 0;

  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const dayMs = (s) => (/^\d{4}-\d{2}-\d{2}$/.test(s) ? Date.parse(s + 'T00:00:00Z') : NaN);
  // a UTC day shown in the admin's language: "Nov 20" (short) or "Fri, Nov 20, 2026" (long)
  function fmtDay(day, long) {
    const t = dayMs(day);
    if (Number.isNaN(t)) return String(day);
    return new Date(t).toLocaleDateString(undefined, long
      ? { timeZone: 'UTC', weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' }
      : { timeZone: 'UTC', month: 'short', day: 'numeric' });
  }
  const plural = (n, one, many) => n.toLocaleString() + ' ' + (n === 1 ? one : many);
  const pct = (x) => (typeof x === 'number' && Number.isFinite(x) ? Math.round(x * 100) + '%' : '–');
  function fmtDuration(s) {
    if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) return null;
    s = Math.round(s);
    if (s < 60) return plural(s, 'second', 'seconds');
    if (s < 3600) {
      const m = Math.floor(s / 60);
      return plural(m, 'minute', 'minutes') + (s % 60 ? ' ' + plural(s % 60, 'second', 'seconds') : '');
    }
    const hrs = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return plural(hrs, 'hour', 'hours') + (m ? ' ' + plural(m, 'minute', 'minutes') : '');
  }

  function setRange(days) {
    const to = Math.floor(Date.now() / DAY_MS) * DAY_MS; // today, UTC
    aTo.value = isoDay(to);
    aFrom.value = isoDay(to - (days - 1) * DAY_MS);
  }
  setRange(30);

  function rangeQuery() {
    return '?from=' + encodeURIComponent(aFrom.value) + '&to=' + encodeURIComponent(aTo.value);
  }

  function clearErrorsIn(root) {
    for (const el of root.querySelectorAll('[aria-invalid="true"]')) {
      el.removeAttribute('aria-invalid');
      const err = $(el.id + '-error');
      if (err) err.remove();
      const desc = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== el.id + '-error');
      if (desc.length) el.setAttribute('aria-describedby', desc.join(' '));
      else el.removeAttribute('aria-describedby');
    }
  }

  // Checks the range; marks the fields and answers false when it is not one the server takes.
  function validRange() {
    clearErrorsIn($('analytics-form'));
    const f = dayMs(aFrom.value);
    const t = dayMs(aTo.value);
    let bad = null;
    if (Number.isNaN(f)) bad = [aFrom, 'Choose the first day.'];
    else if (Number.isNaN(t)) bad = [aTo, 'Choose the last day.'];
    else if (f > t) bad = [aFrom, 'The first day is after the last day.'];
    else if ((t - f) / DAY_MS + 1 > MAX_RANGE_DAYS) bad = [aFrom, 'At most ' + MAX_RANGE_DAYS + ' days at a time.'];
    if (!bad) return true;
    setFieldError(bad[0], bad[1]);
    say(aError, 'Not shown: ' + bad[1]);
    bad[0].focus();
    return false;
  }

  async function loadAnalytics({ announce = false } = {}) {
    if (!validRange()) return;
    const seq = ++analyticsSeq;
    const q = rangeQuery();
    say(aError, '');
    aBody.setAttribute('aria-busy', 'true');
    let res;
    try {
      res = await api('GET', '/api/admin/analytics' + q);
    } catch (err) {
      if (seq !== analyticsSeq) return;
      aBody.setAttribute('aria-busy', 'false');
      say(aError, 'The analytics could not be loaded: ' + err.message);
      return;
    }
    if (seq !== analyticsSeq) return;
    aCsv.href = '/api/admin/analytics.csv' + q;
    aCsv.setAttribute('download', 'frontdesk-analytics-' + aFrom.value + '-to-' + aTo.value + '.csv');
    renderAnalytics(res);
    aBody.setAttribute('aria-busy', 'false');
    if (announce) {
      say(aStatus, 'Showing ' + fmtDay(aFrom.value, true) + ' to ' + fmtDay(aTo.value, true) + ': ' +
        plural(res.conversations || 0, 'conversation', 'conversations') + ' with a question.');
    }
  }

  $('analytics-form').addEventListener('submit', (e) => {
    e.preventDefault();
    loadAnalytics({ announce: true });
  });
  for (const b of document.querySelectorAll('.range-presets button[data-days]')) {
    b.addEventListener('click', () => {
      setRange(Number(b.dataset.days));
      loadAnalytics({ announce: true });
    });
  }
  for (const b of document.querySelectorAll('.table-toggle')) {
    b.addEventListener('click', () => {
      const on = b.getAttribute('aria-pressed') !== 'true';
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
      $(b.getAttribute('aria-controls')).classList.toggle('visually-hidden', !on);
    });
  }

  // The busiest day of a series, or null when every day is 0.
  function busiest(days, key) {
    let best = null;
    for (const d of days) if ((d[key] || 0) > 0 && (!best || d[key] > best[key])) best = d;
    return best;
  }
  const sum = (days, key) => days.reduce((n, d) => n + (d[key] || 0), 0);

  function renderAnalytics(r) {
    const days = Array.isArray(r.days) ? r.days : [];
    aBody.hidden = false;
    $('a-range-title').textContent = fmtDay(aFrom.value, true) + ' to ' + fmtDay(aTo.value, true) +
      ' (' + plural(days.length, 'day', 'days') + ')';

    // the numbers
    $('a-conversations').textContent = (r.conversations || 0).toLocaleString();
    $('a-bot-only').textContent = (r.answered_by_bot_only || 0).toLocaleString();
    $('a-bot-only-share').textContent = r.conversations ? '(' + pct(r.bot_only_share) + ')' : '';
    $('a-handed-off').textContent = (r.handed_off || 0).toLocaleString();
    $('a-handoff-rate').textContent = r.conversations ? '(' + pct(r.handoff_rate) + ')' : '';
    $('a-thumbs-up').textContent = (r.thumbs_up || 0).toLocaleString();
    $('a-thumbs-down').textContent = (r.thumbs_down || 0).toLocaleString();
    const wait = fmtDuration(r.median_seconds_to_person);
    $('a-median').textContent = wait || 'No handed-off chat was answered by a person';
    $('a-median').classList.toggle('stat-value--none', !wait);

    // chart 1: conversations started per day
    const convTotal = sum(days, 'conversations');
    const convTop = busiest(days, 'conversations');
    $('chart-conv-summary').textContent = convTotal === 0 ? 'No conversations started in this range.'
      : plural(convTotal, 'conversation', 'conversations') + ' started over ' + plural(days.length, 'day', 'days') +
        '; the most on ' + fmtDay(convTop.day, true) + ': ' + convTop.conversations.toLocaleString() + '.';
    $('chart-conv-body').replaceChildren(...days.map((d) => h('tr', null,
      h('th', { scope: 'row', text: fmtDay(d.day, true) }), h('td', { class: 'num', text: String(d.conversations) }))));

    // chart 2: bot answers, handoffs and emergencies per day
    const ans = sum(days, 'bot_answers');
    const hand = sum(days, 'handoffs');
    const emer = sum(days, 'emergencies');
    const handTop = busiest(days, 'handoffs');
    $('chart-ans-summary').textContent = ans + hand + emer === 0 ? 'The bot answered nothing and handed nothing off in this range.'
      : 'The bot answered ' + plural(ans, 'question', 'questions') + ' and handed ' + plural(hand, 'question', 'questions') +
        ' to staff' + (emer ? ', and recognised ' + plural(emer, 'emergency', 'emergencies') : '') + '.' +
        (handTop ? ' The most handoffs on ' + fmtDay(handTop.day, true) + ': ' + handTop.handoffs.toLocaleString() + '.' : '');
    $('chart-ans-body').replaceChildren(...days.map((d) => h('tr', null,
      h('th', { scope: 'row', text: fmtDay(d.day, true) }),
      h('td', { class: 'num', text: String(d.bot_answers) }),
      h('td', { class: 'num', text: String(d.handoffs) }),
      h('td', { class: 'num', text: String(d.emergencies) }))));

    const labels = days.map((d) => fmtDay(d.day, false));
    drawChart('conv', $('chart-conv'), {
      type: 'bar',
      data: { labels, datasets: [{ label: 'Conversations', data: days.map((d) => d.conversations), backgroundColor: COLORS.conv }] },
      options: chartOptions({ legend: false }),
    });
    drawChart('ans', $('chart-ans'), {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'Bot answers', data: days.map((d) => d.bot_answers), backgroundColor: COLORS.answers },
          { label: 'Handoffs', data: days.map((d) => d.handoffs), backgroundColor: COLORS.handoffs },
          { label: 'Emergencies', data: days.map((d) => d.emergencies), backgroundColor: COLORS.emergencies },
        ],
      },
      options: chartOptions({ legend: true, stacked: true }),
    });

    // why handed off
    const reasons = Array.isArray(r.handoff_reasons) ? r.handoff_reasons : [];
    const reasonTotal = reasons.reduce((n, x) => n + (x.count || 0), 0);
    $('a-reasons').hidden = reasons.length === 0;
    $('a-reasons-empty').hidden = reasons.length > 0;
    $('a-reasons-body').replaceChildren(...reasons.map((x) => {
      const label = x.reason ? (REASONS[x.reason] || x.reason) : 'unknown';
      return h('tr', { 'data-reason': x.reason || '' },
        h('th', { scope: 'row', text: label.charAt(0).toUpperCase() + label.slice(1) }),
        h('td', { class: 'num', text: String(x.count) }),
        h('td', { class: 'num', text: reasonTotal ? pct(x.count / reasonTotal) : '–' }));
    }));

    // the entries answered from most, each opening in the editor
    const byId = new Map(allEntries.map((e) => [e.id, e]));
    const top = Array.isArray(r.top_entries) ? r.top_entries : [];
    $('a-top-empty').hidden = top.length > 0;
    $('a-top-entries').replaceChildren(...top.map((x) => {
      const e = x.entry ? byId.get(x.entry) : null;
      return h('li', { 'data-entry': x.entry || '' },
        x.entry ? h('a', { href: '#entries/' + encodeURIComponent(x.entry), text: e ? e.question : x.entry }) : h('span', { text: '(no entry)' }),
        h('span', { class: 'rank-meta', text: (e ? x.entry + ' · ' : '') + plural(x.count, 'answer', 'answers') }));
    }));

    // the questions handed off most (already masked by the server)
    const un = Array.isArray(r.top_unanswered) ? r.top_unanswered : [];
    $('a-unanswered-empty').hidden = un.length > 0;
    $('a-top-unanswered').replaceChildren(...un.map((x) => h('li', { 'data-key': x.key || '' },
      h('span', { class: 'rank-text', text: x.text }),
      h('span', { class: 'rank-meta', text: (x.count === 1 ? 'asked once' : 'asked ' + x.count + ' times') +
        (x.last_at_ms ? ', last ' + fmtTime(x.last_at_ms) : '') }))));
  }

  const reducedMotion = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  function chartOptions({ legend, stacked = false }) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion ? false : { duration: 300 },
      // the numbers are in the table beside the chart; the canvas is decoration for screen readers
      plugins: {
        legend: { display: legend, position: 'bottom', labels: { boxWidth: 14 } },
        tooltip: { mode: 'index', intersect: false },
      },
      scales: {
        x: { stacked, grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } },
        y: { stacked, beginAtZero: true, ticks: { precision: 0 } },
      },
    };
  }

  // Draws (or redraws) one chart; without Chart.js (it did not load) the tables are shown instead.
  function drawChart(key, canvas, config) {
    const Chart = window.Chart;
    if (typeof Chart !== 'function') {
      canvas.closest('.chart-box').hidden = true;
      const wrap = canvas.closest('.chart-card').querySelector('.chart-table');
      wrap.classList.remove('visually-hidden');
      return;
    }
    if (!drawChart.styled) {
      drawChart.styled = true;
      const cs = getComputedStyle(document.body);
      Chart.defaults.font.family = cs.fontFamily;
      Chart.defaults.color = '#4f5d68';
    }
    if (charts[key]) {
      charts[key].data = config.data;
      charts[key].update();
    } else {
      charts[key] = new Chart(canvas, config);
    }
  }

  // ================================================================ 3c. synonyms
  const synList = $('syn-list');
  const synStatus = $('synonyms-status');
  const synError = $('synonyms-error');
  const MAX_SYNONYMS = 500;
  const SYN_WORD_BYTES = 32;    // the server's limits, in UTF-8 bytes
  const SYN_MEANING_BYTES = 64;
  const WORD_RE = /^[\p{L}\p{N}]+$/u; // one word as the engine splits words: no space, hyphen or dot
  const utf8 = (s) => new TextEncoder().encode(s).length;
  let synDirty = false;
  let synRowSeq = 0;
  let synSeq = 0;

  function synRow(word = '', meaning = '') {
    const k = ++synRowSeq;
    const w = h('input', { id: 'syn-w-' + k, type: 'text', class: 'syn-word', autocomplete: 'off', autocapitalize: 'none',
      spellcheck: 'false', value: word });
    const m = h('input', { id: 'syn-m-' + k, type: 'text', class: 'syn-meaning', autocomplete: 'off', value: meaning });
    const lw = h('label', { for: w.id, class: 'visually-hidden' });
    const lm = h('label', { for: m.id, class: 'visually-hidden' });
    const rm = h('button', { type: 'button', class: 'btn btn-small btn-ghost syn-remove', text: 'Remove' });
    const li = h('li', { class: 'syn-row' },
      h('div', { class: 'field' }, lw, w),
      h('span', { class: 'syn-arrow', 'aria-hidden': 'true', text: '→' }),
      h('div', { class: 'field' }, lm, m),
      rm);
    rm.addEventListener('click', () => removeSynRow(li));
    return li;
  }

  // Row numbers in the labels ("Word, row 3"), after every add and remove.
  function numberSynRows() {
    const rows = [...synList.children];
    rows.forEach((li, i) => {
      const n = i + 1;
      li.querySelector('.syn-word').previousElementSibling.textContent = 'Word, row ' + n;
      li.querySelector('.syn-meaning').previousElementSibling.textContent = 'Meaning, row ' + n;
      li.querySelector('.syn-remove').setAttribute('aria-label', 'Remove row ' + n);
    });
    $('syn-empty').hidden = rows.length > 0;
    document.querySelector('.syn-head').hidden = rows.length === 0;
    $('syn-add').setAttribute('aria-disabled', rows.length >= MAX_SYNONYMS ? 'true' : 'false');
  }

  function renderSynonyms(map) {
    const entries = Object.entries(map || {}).sort(([a], [b]) => a.localeCompare(b));
    synList.replaceChildren(...entries.map(([w, m]) => synRow(w, String(m))));
    numberSynRows();
    synDirty = false;
  }

  async function loadSynonyms() {
    if (synDirty) return; // keep the admin's unsaved rows
    const seq = ++synSeq;
    say(synError, '');
    try {
      const res = await api('GET', '/api/admin/synonyms');
      if (seq !== synSeq || synDirty) return;
      renderSynonyms(res.synonyms);
    } catch (err) {
      if (seq === synSeq) say(synError, 'The synonyms could not be loaded: ' + err.message);
    }
  }

  function removeSynRow(li) {
    const next = li.nextElementSibling || li.previousElementSibling;
    const word = li.querySelector('.syn-word').value.trim();
    li.remove();
    synDirty = true;
    numberSynRows();
    say(synStatus, (word ? 'Removed “' + word + '”.' : 'Removed the row.') + ' Save to apply.');
    if (next) next.querySelector('.syn-word').focus();
    else $('syn-add').focus();
  }

  $('syn-add').addEventListener('click', () => {
    if (synList.children.length >= MAX_SYNONYMS) {
      say(synError, 'At most ' + MAX_SYNONYMS + ' synonyms.');
      return;
    }
    const li = synRow();
    synList.append(li);
    numberSynRows();
    synDirty = true;
    li.querySelector('.syn-word').focus();
  });
  $('synonyms-form').addEventListener('input', () => { synDirty = true; });

  $('synonyms-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    say(synStatus, '');
    say(synError, '');
    clearErrorsIn(synList);
    const out = {};
    const rowOf = new Map(); // lower-case word -> its input
    const errs = [];
    for (const li of synList.children) {
      const wEl = li.querySelector('.syn-word');
      const mEl = li.querySelector('.syn-meaning');
      const w = wEl.value.trim();
      const m = mEl.value.trim().replace(/\s+/g, ' ');
      if (!w && !m) continue; // an empty row is left out
      if (!w) errs.push([wEl, 'Write the word, or remove the row.']);
      else if (!WORD_RE.test(w)) errs.push([wEl, 'One word: letters and digits only (no space, hyphen or dot).']);
      else if (utf8(w) > SYN_WORD_BYTES) errs.push([wEl, 'Too long: at most ' + SYN_WORD_BYTES + ' bytes.']);
      else if (rowOf.has(w.toLowerCase())) errs.push([wEl, '“' + w + '” is in the list twice.']);
      if (!m) errs.push([mEl, 'Write what “' + (w || 'the word') + '” means.']);
      else if (utf8(m) > SYN_MEANING_BYTES) errs.push([mEl, 'Too long: at most ' + SYN_MEANING_BYTES + ' bytes (accented letters count as two).']);
      if (w && !rowOf.has(w.toLowerCase())) rowOf.set(w.toLowerCase(), wEl);
      if (w && m) out[w] = m;
    }
    if (errs.length) {
      for (const [el, text] of errs) setFieldError(el, text);
      say(synError, 'Not saved: ' + (errs.length === 1 ? 'one field needs' : errs.length + ' fields need') + ' a fix.');
      errs[0][0].focus();
      return;
    }
    const n = Object.keys(out).length;
    if (n > MAX_SYNONYMS) { say(synError, 'Not saved: at most ' + MAX_SYNONYMS + ' synonyms (there are ' + n + ').'); return; }
    const save = $('syn-save');
    save.setAttribute('aria-disabled', 'true');
    let res;
    try {
      res = await api('PUT', '/api/admin/synonyms', { synonyms: out });
    } catch (err) {
      save.removeAttribute('aria-disabled');
      // "synonym "jab": ..." names the row it is about
      const m = /^synonym "(.*?)"/.exec(err.message);
      const el = m && rowOf.get(m[1].toLowerCase());
      if (el && err.status === 400) { setFieldError(el, err.message); el.focus(); }
      say(synError, 'Not saved: ' + err.message + ' Nothing was changed.');
      return;
    }
    save.removeAttribute('aria-disabled');
    synSeq++; // an older load must not overwrite the saved list
    renderSynonyms(res.synonyms);
    const saved = Object.keys(res.synonyms || {}).length;
    say(synStatus, saved === 0 ? 'Saved: no synonyms. The bot reads questions as patients wrote them.'
      : 'Saved ' + plural(saved, 'synonym', 'synonyms') + '. The bot uses them from the next question.');
  });

  // ================================================================ 4. users
  const usersBody = $('users-body');
  const usersStatus = $('users-status');
  const usersError = $('users-error');
  const pwForm = $('pw-form');
  let pwFor = null;

  async function loadUsers() {
    try {
      const res = await api('GET', '/api/admin/users');
      renderUsers(res.users || []);
    } catch (err) {
      say(usersError, 'The users could not be loaded: ' + err.message);
    }
  }

  function renderUsers(users) {
    usersBody.replaceChildren(...users.map((u) => {
      const self = me && u.name === me.name;
      const toggle = self ? h('span', { class: 'muted', text: 'you' }) : h('button', {
        type: 'button', class: 'btn btn-small', text: u.disabled ? 'Enable' : 'Disable',
        'aria-label': (u.disabled ? 'Enable ' : 'Disable ') + u.name,
        onclick: () => setDisabled(u, !u.disabled),
      });
      return h('tr', { 'data-user': u.name },
        h('th', { scope: 'row', text: u.name }),
        h('td', { text: u.display }),
        h('td', { text: u.role === 'admin' ? 'Admin' : 'Staff' }),
        h('td', null, u.disabled ? badge('Disabled', 'archived') : badge('Active', 'published')),
        h('td', { text: fmtTime(u.created_at) }),
        h('td', { class: 'actions-cell' }, toggle, h('button', {
          type: 'button', class: 'btn btn-small', text: 'Reset password', 'aria-label': 'Reset the password of ' + u.name,
          onclick: () => openPasswordForm(u.name),
        })));
    }));
  }

  async function setDisabled(u, disable) {
    say(usersError, '');
    try {
      await api('POST', '/api/admin/users/' + encodeURIComponent(u.name) + (disable ? '/disable' : '/enable'));
    } catch (err) {
      say(usersError, (disable ? 'Not disabled: ' : 'Not enabled: ') + err.message);
      return;
    }
    say(usersStatus, disable ? u.name + ' is disabled: their sessions ended and they cannot sign in.'
      : u.name + ' is enabled again and can sign in.');
    await loadUsers();
    usersBody.querySelector('tr[data-user="' + CSS.escape(u.name) + '"] button')?.focus();
  }

  function openPasswordForm(name) {
    pwFor = name;
    $('pw-title').textContent = 'New password for ' + name;
    $('pw-new').value = '';
    $('pw-user').value = name; // for password managers: whose password this is
    pwForm.hidden = false;
    $('pw-new').focus();
  }
  $('pw-cancel').addEventListener('click', () => { pwForm.hidden = true; pwFor = null; });
  pwForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    say(usersError, '');
    const pw = $('pw-new').value;
    if (chars(pw) < 10) { say(usersError, 'The password needs at least 10 characters.'); $('pw-new').focus(); return; }
    try {
      await api('POST', '/api/admin/users/' + encodeURIComponent(pwFor) + '/password', { password: pw });
    } catch (err) {
      say(usersError, 'Password not changed: ' + err.message);
      return;
    }
    say(usersStatus, 'The password of ' + pwFor + ' is changed; their open sessions ended.');
    pwForm.hidden = true;
    $('pw-new').value = '';
    pwFor = null;
  });

  $('user-add').addEventListener('submit', async (e) => {
    e.preventDefault();
    say(usersError, '');
    const name = $('u-name').value.trim();
    const display = $('u-display').value.trim();
    const role = $('u-role').value;
    const password = $('u-password').value;
    if (!/^[a-z0-9._-]{1,64}$/.test(name)) {
      say(usersError, 'The sign-in name is 1 to 64 of a-z, 0-9, dot, - and _.');
      $('u-name').focus();
      return;
    }
    if (chars(password) < 10) { say(usersError, 'The password needs at least 10 characters.'); $('u-password').focus(); return; }
    const body = { name, role, password };
    if (display) body.display = display;
    try {
      await api('POST', '/api/admin/users', body);
    } catch (err) {
      say(usersError, err.status === 409 ? 'Not added: there is already a user “' + name + '”.' : 'Not added: ' + err.message);
      return;
    }
    say(usersStatus, 'Added ' + name + ' (' + role + '). They can sign in at /login now.');
    $('user-add').reset();
    loadUsers();
  });

  // ================================================================ 5. settings
  const sThreshold = $('s-threshold');
  const sRetention = $('s-retention');
  let loadedRetention = null; // sent only when changed: every setting sent is a change in the audit log
  async function loadSettings() {
    try {
      const res = await api('GET', '/api/admin/settings');
      if (document.activeElement !== sThreshold) sThreshold.value = String(Math.round(res.threshold * 1000) / 1000);
      const hasRetention = typeof res.retention_days === 'number';
      $('retention-field').hidden = !hasRetention;
      if (hasRetention && document.activeElement !== sRetention) {
        sRetention.value = String(res.retention_days);
        loadedRetention = res.retention_days;
      }
      // the admin's unsaved edits are kept when coming back to the section
      if (!hoursDirty) fillHours(res.hours); // the form and the JSON view alike
      messagesForm.hidden = !res.messages;
      if (res.messages && !messagesDirty) fillMessages(res.messages);
    } catch (err) {
      say($('settings-error'), 'The settings could not be loaded: ' + err.message);
    }
  }
  $('settings-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    say($('settings-status'), '');
    say($('settings-error'), '');
    sThreshold.removeAttribute('aria-invalid');
    sRetention.removeAttribute('aria-invalid');
    const v = Number(sThreshold.value);
    if (sThreshold.value.trim() === '' || !Number.isFinite(v) || v < 0.05 || v > 0.95) {
      sThreshold.setAttribute('aria-invalid', 'true');
      say($('settings-error'), 'Not saved: the threshold is a number from 0.05 to 0.95.');
      sThreshold.focus();
      return;
    }
    const body = { threshold: v };
    if (!$('retention-field').hidden) {
      const days = Number(sRetention.value);
      if (sRetention.value.trim() === '' || !Number.isInteger(days) || days < 0 || days > 3650) {
        sRetention.setAttribute('aria-invalid', 'true');
        say($('settings-error'), 'Not saved: keep conversations 0 (forever) to 3650 days, in whole days.');
        sRetention.focus();
        return;
      }
      if (days !== loadedRetention) body.retention_days = days;
    }
    try {
      const res = await api('PUT', '/api/admin/settings', body);
      sThreshold.value = String(Math.round(res.threshold * 1000) / 1000);
      let msg = 'Saved: the threshold is ' + fmtScore(res.threshold) + ', in effect now.';
      if (typeof res.retention_days === 'number' && body.retention_days !== undefined) {
        sRetention.value = String(res.retention_days);
        loadedRetention = res.retention_days;
        msg += res.retention_days === 0 ? ' Conversations are kept forever.'
          : ' Conversations are kept ' + res.retention_days + ' days.';
      }
      say($('settings-status'), msg);
    } catch (err) {
      say($('settings-error'), 'Not saved: ' + err.message);
    }
  });

  // ---- opening hours: a form (or the JSON itself) for the kb/hours.json format
  const hoursForm = $('hours-form');
  const hoursStatus = $('hours-status');
  const hoursError = $('hours-error');
  const hoursBox = $('hours-structured');
  const hoursJsonBox = $('hours-json-box');
  const hJson = $('h-json');
  const hTz = $('h-tz');
  const hLocations = $('h-locations');
  const hHolidays = $('h-holidays');
  const WEEK = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'],
    ['sat', 'Saturday'], ['sun', 'Sunday']];
  const HOURS_KEYS = ['timezone', 'timezone_label', 'timezone_label_es', 'phone', 'nurse_line', 'entries', 'locations', 'holidays'];
  const MAX_LOCATIONS = 8;
  const MAX_HOLIDAYS = 64;
  const NAME_BYTES = 64;
  const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
  const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  const RULE_RE = new RegExp('^(?:(\\d\\d)-(\\d\\d)|(?:first|second|third|fourth|last) (?:sun|mon|tue|wed|thu|fri|sat) of (?:' +
    MONTHS.join('|') + '))$');
  let hoursMode = 'form';
  let hoursDirty = false;
  let hoursLoaded = null; // the hours as the server has them
  let locSeq = 0;
  let holSeq = 0;

  function fillTimeZones(current) {
    let zones = [];
    try { zones = Intl.supportedValuesOf('timeZone'); } catch (_) { zones = []; }
    if (!zones.length) {
      zones = ['America/New_York', 'America/Chicago', 'America/Denver', 'America/Phoenix', 'America/Los_Angeles',
        'America/Anchorage', 'Pacific/Honolulu', 'America/Puerto_Rico', 'UTC'];
    }
    if (current && !zones.includes(current)) zones = [current, ...zones];
    hTz.replaceChildren(...(current ? [] : [h('option', { value: '', text: 'Choose a time zone…' })]),
      ...zones.map((z) => h('option', { value: z, text: z.replace(/_/g, ' ') })));
    hTz.value = current || '';
  }

  // "08:00-18:00" -> {open, from, to}; a close of 24:00 shows as 00:00 (a time field has no 24:00)
  function parseSpan(v) {
    const m = /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(String(v || ''));
    if (!m) return { open: false, from: '', to: '' };
    return { open: true, from: m[1], to: m[2] === '24:00' ? '00:00' : m[2] };
  }
  const minutes = (t) => (/^\d\d:\d\d$/.test(t) ? Number(t.slice(0, 2)) * 60 + Number(t.slice(3)) : NaN);

  function dayRow(k, d, label, span) {
    const base = 'h-loc-' + k + '-' + d;
    const open = h('input', { type: 'checkbox', id: base + '-open', class: 'day-open' });
    open.checked = span.open;
    const from = h('input', { type: 'time', id: base + '-from', class: 'day-from', value: span.from || '08:00' });
    const to = h('input', { type: 'time', id: base + '-to', class: 'day-to', value: span.to || '17:00' });
    const closedNote = h('span', { class: 'day-closed', text: 'Closed' });
    const sync = () => {
      from.disabled = !open.checked;
      to.disabled = !open.checked;
      closedNote.hidden = open.checked;
      from.closest('td')?.classList.toggle('is-off', !open.checked);
    };
    open.addEventListener('change', sync);
    const row = h('tr', { 'data-day': d },
      h('th', { scope: 'row' }, h('label', { class: 'day-label' }, open,
        h('span', { class: 'visually-hidden', text: 'Open on ' }), label)),
      h('td', null, h('label', { for: from.id, class: 'visually-hidden', text: label + ': opens at' }), from),
      h('td', null, h('label', { for: to.id, class: 'visually-hidden', text: label + ': closes at' }), to, closedNote));
    sync();
    return row;
  }

  function locationBlock(loc) {
    const k = ++locSeq;
    const name = h('input', { id: 'h-loc-' + k + '-name', type: 'text', class: 'loc-name', autocomplete: 'off',
      value: loc.name || '' });
    const legend = h('legend', { text: loc.name || 'New location' });
    name.addEventListener('input', () => { legend.textContent = name.value.trim() || 'New location'; });
    const week = loc.week && typeof loc.week === 'object' ? loc.week : {};
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost loc-remove', text: 'Remove this location' });
    const box = h('fieldset', { class: 'loc', 'data-loc': k }, legend,
      h('div', { class: 'field' }, h('label', { for: name.id, text: 'Name' }), name),
      h('table', { class: 'week' },
        h('caption', { class: 'visually-hidden', text: 'Opening hours by weekday' }),
        h('thead', null, h('tr', null, h('th', { scope: 'col', text: 'Open on' }), h('th', { scope: 'col', text: 'Opens' }),
          h('th', { scope: 'col', text: 'Closes' }))),
        h('tbody', null, ...WEEK.map(([d, label]) => dayRow(k, d, label, parseSpan(week[d]))))),
      remove);
    remove.addEventListener('click', () => {
      if (hLocations.children.length <= 1) {
        say(hoursError, 'A clinic needs at least one location: change this one instead.');
        return;
      }
      const next = box.nextElementSibling || box.previousElementSibling;
      box.remove();
      hoursDirty = true;
      say(hoursStatus, 'Removed the location “' + (name.value.trim() || 'New location') + '”. Save to apply.');
      next.querySelector('.loc-name').focus();
    });
    return box;
  }

  function holidayRow(hol) {
    const k = ++holSeq;
    const id = (x) => 'h-hol-' + k + '-' + x;
    const name = h('input', { id: id('name'), type: 'text', class: 'hol-name', autocomplete: 'off', value: hol.name || '' });
    const nameEs = h('input', { id: id('name-es'), type: 'text', class: 'hol-name-es', autocomplete: 'off', lang: 'es',
      value: hol.name_es || '' });
    const rule = h('input', { id: id('rule'), type: 'text', class: 'hol-rule', autocomplete: 'off', autocapitalize: 'none',
      spellcheck: 'false', value: hol.rule || '', placeholder: '12-25', 'aria-describedby': 'h-rule-hint' });
    const until = /^until (\d\d:\d\d)$/.exec(hol.hours || '');
    const kind = h('select', { id: id('hours'), class: 'hol-hours' },
      h('option', { value: 'closed', text: 'Closed' }), h('option', { value: 'until', text: 'Closes early' }));
    kind.value = until ? 'until' : 'closed';
    const time = h('input', { id: id('until'), type: 'time', class: 'hol-until', value: until ? until[1] : '14:00' });
    const timeField = h('div', { class: 'field' }, h('label', { for: time.id, text: 'Closes at' }), time);
    // kept in its place (the row does not jump), out of sight and of the accessibility tree
    const sync = () => { timeField.classList.toggle('is-off', kind.value !== 'until'); };
    kind.addEventListener('change', sync);
    sync();
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-ghost hol-remove', text: 'Remove' });
    const li = h('li', { class: 'hol', role: 'group', 'data-hol': k },
      h('div', { class: 'field' }, h('label', { for: name.id, text: 'Holiday' }), name),
      h('div', { class: 'field' }, h('label', { for: nameEs.id, text: 'In Spanish' }), nameEs),
      h('div', { class: 'field' }, h('label', { for: rule.id, text: 'Day' }), rule),
      h('div', { class: 'field' }, h('label', { for: kind.id, text: 'Hours' }), kind),
      timeField, remove);
    const label = () => {
      const n = [...hHolidays.children].indexOf(li) + 1;
      li.setAttribute('aria-label', 'Holiday ' + (n || '') + (name.value.trim() ? ': ' + name.value.trim() : ''));
      remove.setAttribute('aria-label', 'Remove the holiday ' + (name.value.trim() || n));
    };
    li.relabel = label;
    name.addEventListener('input', label);
    remove.addEventListener('click', () => {
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      hoursDirty = true;
      relabelHolidays();
      say(hoursStatus, 'Removed the holiday “' + (name.value.trim() || 'without a name') + '”. Save to apply.');
      if (next) next.querySelector('.hol-name').focus();
      else $('h-add-holiday').focus();
    });
    return li;
  }
  function relabelHolidays() { for (const li of hHolidays.children) li.relabel(); }

  function fillHoursForm(hrs) {
    const x = hrs && typeof hrs === 'object' ? hrs : {};
    fillTimeZones(typeof x.timezone === 'string' ? x.timezone : '');
    $('h-tz-label').value = x.timezone_label || '';
    $('h-tz-label-es').value = x.timezone_label_es || '';
    $('h-phone').value = x.phone || '';
    $('h-nurse').value = x.nurse_line || '';
    $('h-entries').value = Array.isArray(x.entries) ? x.entries.join(', ') : '';
    const locs = Array.isArray(x.locations) && x.locations.length ? x.locations : [{ name: '', week: {} }];
    hLocations.replaceChildren(...locs.map((l) => locationBlock(l || {})));
    hHolidays.replaceChildren(...(Array.isArray(x.holidays) ? x.holidays : []).map((y) => holidayRow(y || {})));
    relabelHolidays();
  }

  function fillHours(hrs) {
    hoursLoaded = hrs || null;
    $('hours-none').hidden = !!hrs;
    clearErrorsIn(hoursForm);
    fillHoursForm(hrs);
    hJson.value = hrs ? JSON.stringify(hrs, null, 2) : '';
    hoursDirty = false;
  }

  // The form as an hours object. With errs, also checks it as the server would, pushing
  // [field, message]; without, it is what the JSON view shows (mistakes and all).
  function readHoursForm(errs) {
    const bad = (el, text) => { if (errs) errs.push([el, text]); };
    const out = {};
    if (!hTz.value) bad(hTz, 'Choose the time zone.');
    out.timezone = hTz.value;
    for (const [key, id] of [['timezone_label', 'h-tz-label'], ['timezone_label_es', 'h-tz-label-es'],
      ['phone', 'h-phone'], ['nurse_line', 'h-nurse']]) {
      const v = $(id).value.trim();
      if (utf8(v) > NAME_BYTES) bad($(id), 'Too long: at most ' + NAME_BYTES + ' bytes.');
      if (v) out[key] = v;
    }
    const entries = $('h-entries').value.split(/[\s,]+/).filter(Boolean);
    if (entries.length > 32) bad($('h-entries'), 'At most 32 entries.');
    else if (entries.some((e) => utf8(e) > 128)) bad($('h-entries'), 'An entry id is at most 128 bytes.');
    if (entries.length) out.entries = entries;
    out.locations = [...hLocations.children].map((box) => {
      const nameEl = box.querySelector('.loc-name');
      const name = nameEl.value.trim();
      if (!name) bad(nameEl, 'Give the location a name.');
      else if (utf8(name) > NAME_BYTES) bad(nameEl, 'Too long: at most ' + NAME_BYTES + ' bytes.');
      const week = {};
      for (const row of box.querySelectorAll('tr[data-day]')) {
        const d = row.dataset.day;
        const dayName = row.querySelector('.day-label').lastChild.textContent;
        if (!row.querySelector('.day-open').checked) { week[d] = 'closed'; continue; }
        const fromEl = row.querySelector('.day-from');
        const toEl = row.querySelector('.day-to');
        const f = fromEl.value;
        const t = toEl.value === '00:00' ? '24:00' : toEl.value;
        if (!f) bad(fromEl, dayName + ': when does it open?');
        else if (!toEl.value) bad(toEl, dayName + ': when does it close?');
        else if (minutes(f) >= minutes(t)) bad(toEl, dayName + ': it closes before it opens.');
        week[d] = (f || '??:??') + '-' + (t || '??:??');
      }
      return { name, week };
    });
    if (out.locations.length > MAX_LOCATIONS) bad($('h-add-location'), 'At most ' + MAX_LOCATIONS + ' locations.');
    const hols = [...hHolidays.children].map((li) => {
      const nameEl = li.querySelector('.hol-name');
      const esEl = li.querySelector('.hol-name-es');
      const ruleEl = li.querySelector('.hol-rule');
      const name = nameEl.value.trim();
      const nameEs = esEl.value.trim();
      const rule = ruleEl.value.trim().toLowerCase().replace(/\s+/g, ' ');
      if (!name) bad(nameEl, 'Give the holiday a name.');
      else if (utf8(name) > NAME_BYTES) bad(nameEl, 'Too long: at most ' + NAME_BYTES + ' bytes.');
      if (utf8(nameEs) > NAME_BYTES) bad(esEl, 'Too long: at most ' + NAME_BYTES + ' bytes.');
      const m = RULE_RE.exec(rule);
      if (!rule) bad(ruleEl, 'Which day? For example 12-25, or fourth thu of nov.');
      else if (!m || (m[1] && (Number(m[1]) < 1 || Number(m[1]) > 12 || Number(m[2]) < 1 ||
        Number(m[2]) > MONTH_DAYS[Number(m[1]) - 1]))) {
        bad(ruleEl, '“' + rule + '” is not a day the bot knows: use month-day (12-25) or e.g. last mon of may.');
      }
      const hol = { name, rule };
      if (nameEs) hol.name_es = nameEs;
      if (li.querySelector('.hol-hours').value === 'until') {
        const tEl = li.querySelector('.hol-until');
        if (!tEl.value) bad(tEl, 'When does it close?');
        hol.hours = 'until ' + (tEl.value || '??:??');
      } else {
        hol.hours = 'closed';
      }
      return hol;
    });
    if (hols.length > MAX_HOLIDAYS) bad($('h-add-holiday'), 'At most ' + MAX_HOLIDAYS + ' holidays.');
    if (hols.length) out.holidays = hols;
    return out;
  }

  // The JSON view's text as an object, or an error message (with the line and column).
  function parseHoursJson() {
    const text = hJson.value;
    if (!text.trim()) return { error: 'The JSON is empty.' };
    let v;
    try {
      v = JSON.parse(text);
    } catch (err) {
      let msg = String(err.message || err).replace(/^JSON\.parse: /, '');
      const pos = /at position (\d+)/.exec(msg);
      if (pos && !/line \d+/.test(msg)) {
        const before = text.slice(0, Number(pos[1])).split('\n');
        msg += ' (line ' + before.length + ', column ' + (before[before.length - 1].length + 1) + ')';
      }
      return { error: 'The JSON is not valid: ' + msg + '.' };
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'The opening hours must be a JSON object: { "timezone": …, "locations": [ … ] }.' };
    return { value: v };
  }

  // Fields the form has no place for: it would drop them, so such JSON stays JSON.
  function formCannotShow(v) {
    const extra = Object.keys(v).filter((k) => !HOURS_KEYS.includes(k));
    for (const [i, l] of (Array.isArray(v.locations) ? v.locations : []).entries()) {
      if (!l || typeof l !== 'object' || Array.isArray(l)) extra.push('locations[' + i + ']');
      else {
        for (const k of Object.keys(l)) if (k !== 'name' && k !== 'week') extra.push('locations[' + i + '].' + k);
        for (const [d, s] of Object.entries(l.week || {})) {
          if (!WEEK.some(([w]) => w === d) || (s !== 'closed' && !parseSpan(s).open)) extra.push('locations[' + i + '].week.' + d);
        }
      }
    }
    for (const [i, x] of (Array.isArray(v.holidays) ? v.holidays : []).entries()) {
      if (!x || typeof x !== 'object' || Array.isArray(x)) extra.push('holidays[' + i + ']');
      else for (const k of Object.keys(x)) if (!['name', 'name_es', 'rule', 'hours'].includes(k)) extra.push('holidays[' + i + '].' + k);
    }
    if (v.timezone !== undefined && typeof v.timezone !== 'string') extra.push('timezone');
    return extra;
  }

  function setHoursMode(mode) {
    say(hoursError, '');
    clearErrorsIn(hoursForm);
    if (mode === hoursMode) return true;
    if (mode === 'json') {
      hJson.value = JSON.stringify(readHoursForm(null), null, 2);
    } else {
      const p = parseHoursJson();
      if (p.error) {
        setFieldError(hJson, p.error);
        say(hoursError, 'The form cannot show this: ' + p.error + ' Fix it here first.');
        hJson.focus();
        return false;
      }
      const extra = formCannotShow(p.value);
      if (extra.length) {
        setFieldError(hJson, 'The form has no place for: ' + extra.slice(0, 5).join(', ') + (extra.length > 5 ? '…' : '') + '.');
        say(hoursError, 'The form cannot show this JSON without losing parts of it: edit it here, or remove ' +
          (extra.length === 1 ? 'that field' : 'those fields') + ' first.');
        hJson.focus();
        return false;
      }
      fillHoursForm(p.value);
    }
    hoursMode = mode;
    hoursBox.hidden = mode !== 'form';
    hoursJsonBox.hidden = mode !== 'json';
    $('hours-mode-form').setAttribute('aria-pressed', mode === 'form' ? 'true' : 'false');
    $('hours-mode-json').setAttribute('aria-pressed', mode === 'json' ? 'true' : 'false');
    (mode === 'json' ? hJson : hTz).focus();
    return true;
  }
  $('hours-mode-form').addEventListener('click', () => setHoursMode('form'));
  $('hours-mode-json').addEventListener('click', () => setHoursMode('json'));

  $('h-add-location').addEventListener('click', () => {
    if (hLocations.children.length >= MAX_LOCATIONS) { say(hoursError, 'At most ' + MAX_LOCATIONS + ' locations.'); return; }
    const box = locationBlock({ name: '', week: {} });
    hLocations.append(box);
    hoursDirty = true;
    box.querySelector('.loc-name').focus();
  });
  $('h-add-holiday').addEventListener('click', () => {
    if (hHolidays.children.length >= MAX_HOLIDAYS) { say(hoursError, 'At most ' + MAX_HOLIDAYS + ' holidays.'); return; }
    const li = holidayRow({ hours: 'closed' });
    hHolidays.append(li);
    relabelHolidays();
    hoursDirty = true;
    li.querySelector('.hol-name').focus();
  });
  hoursForm.addEventListener('input', () => { hoursDirty = true; });
  hoursForm.addEventListener('change', () => { hoursDirty = true; });

  // A server message naming a place ("hours: locations[1].week.tue: ...") marks that field.
  function hoursFieldOf(message) {
    if (hoursMode === 'json') return hJson;
    let m = /locations\[(\d+)\]\.week\.(\w+)/.exec(message);
    if (m) return hLocations.children[Number(m[1])]?.querySelector('tr[data-day="' + m[2] + '"] .day-from') || null;
    m = /locations\[(\d+)\]/.exec(message);
    if (m) return hLocations.children[Number(m[1])]?.querySelector('.loc-name') || null;
    m = /holidays\[(\d+)\]/.exec(message);
    if (m) {
      const li = hHolidays.children[Number(m[1])];
      if (!li) return null;
      return /rule/.test(message) ? li.querySelector('.hol-rule') : /hours/.test(message) ? li.querySelector('.hol-until')
        : li.querySelector('.hol-name');
    }
    if (/time zone|timezone/.test(message)) return hTz;
    return null;
  }

  hoursForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    say(hoursStatus, '');
    say(hoursError, '');
    clearErrorsIn(hoursForm);
    let hrs;
    if (hoursMode === 'json') {
      const p = parseHoursJson();
      if (p.error) {
        setFieldError(hJson, p.error);
        say(hoursError, 'Not saved: ' + p.error + ' Nothing was changed.');
        hJson.focus();
        return;
      }
      hrs = p.value;
    } else {
      const errs = [];
      hrs = readHoursForm(errs);
      if (errs.length) {
        // a count over the limit is said with the button that adds more; the rest by their field
        const general = errs.filter(([el]) => el.tagName === 'BUTTON').map(([, text]) => text);
        const fields = errs.filter(([el]) => el.tagName !== 'BUTTON');
        for (const [el, text] of fields) setFieldError(el, text);
        say(hoursError, 'Not saved: ' + [
          fields.length ? (fields.length === 1 ? 'one field needs' : fields.length + ' fields need') + ' a fix.' : '',
          ...general].filter(Boolean).join(' '));
        errs[0][0].focus();
        return;
      }
    }
    const save = $('hours-save');
    save.setAttribute('aria-disabled', 'true');
    let res;
    try {
      res = await api('PUT', '/api/admin/settings', { hours: hrs });
    } catch (err) {
      save.removeAttribute('aria-disabled');
      const msg = err.message.replace(/^hours: (hours: )?/, '');
      const el = err.status === 400 ? hoursFieldOf(msg) : null;
      if (el) setFieldError(el, msg);
      say(hoursError, 'Not saved: ' + msg + (err.status === 400 ? '. Nothing was changed.' : ''));
      if (el) el.focus();
      return;
    }
    save.removeAttribute('aria-disabled');
    fillHours(res.hours);
    const x = res.hours || {};
    const nl = Array.isArray(x.locations) ? x.locations.length : 0;
    const nh = Array.isArray(x.holidays) ? x.holidays.length : 0;
    say(hoursStatus, 'Saved: the opening hours are in effect now (' + (x.timezone || 'no time zone') + ', ' +
      plural(nl, 'location', 'locations') + ', ' + plural(nh, 'holiday', 'holidays') + ').');
  });

  // ---- the messages patients get
  const MESSAGES = [
    ['greeting', 'Greeting', 'The first message of every new conversation.'],
    ['handoff', 'Passing a question to staff', 'When the bot is not sure of the answer and hands the question to the front desk.'],
    ['person', 'A person was asked for', 'When the patient asks to talk to someone.'],
    ['closed', 'The front desk is closed', 'When a question goes to staff outside the opening hours; the next opening time and “Leave a message” follow it.'],
    ['nobody', 'Nobody can join', 'When a question goes to staff in opening hours but nobody is online; “Leave a message” follows it.'],
    ['leave_message', 'Leave a message', 'Asks for a name and a phone number or e-mail address, after “closed” and “nobody can join”.'],
  ];
  const LANGS = [['en', 'English'], ['es', 'Spanish']];
  const MAX_MESSAGE_BYTES = 2000;
  const messagesForm = $('messages-form');
  const messagesStatus = $('messages-status');
  const messagesError = $('messages-error');
  let messagesDirty = false;
  let messagesLoaded = null;

  $('messages-fields').replaceChildren(...MESSAGES.map(([key, title, when]) => h('fieldset', { class: 'group msg-group' },
    h('legend', { text: title }),
    h('p', { class: 'hint', id: 'm-' + key + '-hint', text: when }),
    h('div', { class: 'msg-langs' }, ...LANGS.map(([lang, langName]) => h('div', { class: 'field' },
      h('label', { for: 'm-' + key + '-' + lang }, h('span', { class: 'visually-hidden', text: title + ', ' }), langName),
      h('textarea', { id: 'm-' + key + '-' + lang, rows: 4, lang, 'data-key': key, 'data-lang': lang,
        'aria-describedby': 'm-' + key + '-hint' })))))));

  function fillMessages(m) {
    messagesLoaded = m || {};
    clearErrorsIn(messagesForm);
    for (const [key] of MESSAGES) {
      for (const [lang] of LANGS) $('m-' + key + '-' + lang).value = (messagesLoaded[key] && messagesLoaded[key][lang]) || '';
    }
    messagesDirty = false;
  }
  messagesForm.addEventListener('input', () => { messagesDirty = true; });

  messagesForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    say(messagesStatus, '');
    say(messagesError, '');
    clearErrorsIn(messagesForm);
    const body = {};
    const errs = [];
    const changed = [];
    for (const [key, title] of MESSAGES) {
      body[key] = {};
      for (const [lang, langName] of LANGS) {
        const el = $('m-' + key + '-' + lang);
        const v = el.value.trim();
        if (!v) errs.push([el, 'Write the ' + langName + ' text: a message cannot be empty.']);
        else if (utf8(v) > MAX_MESSAGE_BYTES) errs.push([el, 'Too long: at most ' + MAX_MESSAGE_BYTES + ' bytes.']);
        body[key][lang] = v;
        const before = messagesLoaded && messagesLoaded[key] ? messagesLoaded[key][lang] : undefined;
        if (v !== before) changed.push(title + ' (' + langName + ')');
      }
    }
    if (errs.length) {
      for (const [el, text] of errs) setFieldError(el, text);
      say(messagesError, 'Not saved: ' + (errs.length === 1 ? 'one message needs' : errs.length + ' messages need') + ' a fix.');
      errs[0][0].focus();
      return;
    }
    if (!changed.length) {
      say(messagesStatus, 'Nothing to save: the messages are as they were.');
      messagesDirty = false;
      return;
    }
    const save = $('messages-save');
    save.setAttribute('aria-disabled', 'true');
    let res;
    try {
      // all six, both languages: the server replaces the whole set (a message left out goes back
      // to the built-in text)
      res = await api('PUT', '/api/admin/settings', { messages: body });
    } catch (err) {
      save.removeAttribute('aria-disabled');
      const m = /messages\.(\w+)\.(en|es)/.exec(err.message);
      const el = m && $('m-' + m[1] + '-' + m[2]);
      if (el && err.status === 400) { setFieldError(el, err.message); el.focus(); }
      say(messagesError, 'Not saved: ' + err.message + (err.status === 400 ? '. Nothing was changed.' : ''));
      return;
    }
    save.removeAttribute('aria-disabled');
    if (res.messages) fillMessages(res.messages);
    say(messagesStatus, 'Saved: ' + changed.join(', ') + '. Patients get the new text from now on' +
      (changed.some((c) => c.startsWith('Greeting')) ? '; the greeting in conversations that start from now.' : '.'));
  });

  // ================================================================ 6. audit log
  const auditBody = $('audit-body');
  const auditOlder = $('audit-older');
  let auditOldest = 0;
  let auditSeq = 0;

  async function loadAudit(reset) {
    const seq = ++auditSeq;
    say($('audit-error'), '');
    if (reset) auditOldest = 0;
    const q = '?limit=' + AUDIT_PAGE + (auditOldest ? '&before=' + auditOldest : '');
    let res;
    try {
      res = await api('GET', '/api/admin/audit' + q);
    } catch (err) {
      if (seq === auditSeq) say($('audit-error'), 'The audit log could not be loaded: ' + err.message);
      return;
    }
    if (seq !== auditSeq) return;
    const events = res.events || [];
    const rows = events.map((ev) => h('tr', { 'data-id': ev.id },
      h('td', null, h('time', { datetime: ev.at, text: fmtTime(ev.at) })),
      h('td', { text: ev.actor }),
      h('td', null, h('span', { text: ACTIONS[ev.action] || ev.action }), ' ', h('code', { class: 'muted', text: ev.action })),
      h('td', null, ev.target && ev.action.startsWith('entry.')
        ? h('a', { href: '#entries/' + encodeURIComponent(ev.target), text: ev.target })
        : (ev.target || '')),
      h('td', { text: ev.detail || '' }),
      h('td', { text: ev.peer || '' })));
    if (reset) auditBody.replaceChildren(...rows);
    else auditBody.append(...rows);
    if (events.length) auditOldest = events[events.length - 1].id;
    const more = events.length >= AUDIT_PAGE && auditOldest > 1;
    auditOlder.hidden = !more;
    say($('audit-status'), (reset ? events.length + (events.length === 1 ? ' event' : ' events') + ' shown.'
      : events.length + ' older ' + (events.length === 1 ? 'event' : 'events') + ' added.') +
      (more ? '' : ' That is the start of the log.'));
    if (!reset && rows.length) rows[0].setAttribute('tabindex', '-1');
    if (!reset && rows.length) rows[0].focus();
  }
  auditOlder.addEventListener('click', () => loadAudit(false));
  $('audit-refresh').addEventListener('click', () => loadAudit(true));

  // ================================================================ 7. import / export
  $('import-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const status = $('import-status');
    const error = $('import-error');
    say(status, '');
    say(error, '');
    const file = $('import-file').files[0];
    if (!file) { say(error, 'Choose a JSONL file first.'); $('import-file').focus(); return; }
    if (file.size > MAX_IMPORT) { say(error, 'Nothing was imported: the file is over 8 MiB.'); return; }
    const go = $('import-go');
    go.setAttribute('aria-disabled', 'true');
    try {
      const text = await file.text();
      const res = await api('POST', '/api/admin/import', text, { raw: true });
      say(status, 'Imported ' + res.imported + (res.imported === 1 ? ' entry' : ' entries') + ' from ' + file.name +
        '. They are published: patients get them from their next question.');
      $('import-form').reset();
      await loadAllEntries().catch(() => {});
      loadEntries();
    } catch (err) {
      say(error, err.status === 413 ? 'Nothing was imported: the file is over 8 MiB.'
        : 'Nothing was imported: ' + err.message);
    } finally {
      go.removeAttribute('aria-disabled');
    }
  });

  // ================================================================ sign out, start
  $('logout').addEventListener('click', async () => {
    if (dirty && !window.confirm('Sign out and lose your unsaved changes?')) return;
    dirty = false;
    try { await api('POST', '/api/logout', {}); } catch (_) { /* signed out anyway below */ }
    location.replace('/login?signed_out=1');
  });

  async function start() {
    try {
      await refreshMe();
    } catch (err) {
      if (err.status !== 401) say(pageError, err.message);
      return;
    }
    $('me-name').textContent = me.display || me.name;
    if (me.role !== 'admin') {
      say(pageError, 'This page is for admins. Your account is ' + me.role + ': go to the staff console.');
      return;
    }
    route();
    started = true;
    try {
      await loadAllEntries();
    } catch (err) {
      say(pageError, 'The knowledge base could not be loaded: ' + err.message);
    }
    await loadEntries();
    loadInbox({ quiet: true });
    if (current === 'analytics') loadAnalytics(); // again, now that entries have their questions
  }

  start();
})();
