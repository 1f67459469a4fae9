/*
 * frontdesk patient chat widget.
 *
 * Embed with one tag on any page:   <script src="https://chat.example-clinic.org/widget.js" async></script>
 *
 * - Talks the protocol of docs/protocol.md over ws(s)://<server>/ws (subprotocol "frontdesk-chat").
 * - The server is the origin this script was loaded from, so the tag also works on another origin
 *   (that origin must be allowed with `frontdesk serve --allow-origin`).
 * - Strict-CSP friendly: no inline styles, no innerHTML; all server text goes in with textContent.
 * - The UI lives in a shadow root so the host page's CSS cannot break it (and ours cannot leak out).
 * - Optional page hints: <meta name="application-name" content="Clinic name"> names the header,
 *   <html lang="es..."> switches the labels to Spanish and sends "lang":"es" in hello.
 */
(() => {
  'use strict';

  if (window.__frontdeskWidgetLoaded) return;
  window.__frontdeskWidgetLoaded = true;

  // ---------------------------------------------------------------- where is the server?
  const script = document.currentScript ||
    Array.from(document.querySelectorAll('script[src]'))
      .find((s) => /(^|\/)widget\.js([?#]|$)/.test(s.getAttribute('src') || ''));
  const BASE = new URL('.', script ? script.src : location.href);
  const WS_URL = (BASE.protocol === 'https:' ? 'wss://' : 'ws://') + BASE.host + '/ws';
  const CSS_URL = new URL('widget.css', BASE).href;
  const SUBPROTOCOL = 'frontdesk-chat';
  const STORE_KEY = 'frontdesk:' + BASE.origin + ':token';
  const OPEN_KEY = 'frontdesk:' + BASE.origin + ':open';
  const MAX_TEXT_BYTES = 4000;

  // ---------------------------------------------------------------- strings
  const STRINGS = {
    en: {
      launcher: 'Chat with us',
      dialog: 'Chat with {name}',
      subtitle: 'Virtual front desk assistant',
      close: 'Close chat',
      log: 'Conversation',
      inputLabel: 'Your message',
      placeholder: 'Type your question…',
      send: 'Send',
      you: 'You said:',
      bot: 'Assistant said:',
      staff: 'Front desk',
      typing: 'Typing…',
      connecting: 'Connecting…',
      reconnecting: 'Reconnecting…',
      offline: 'You are offline. Your messages will be sent when the connection is back.',
      pending: 'Sending…',
      queued: 'Waiting for connection…',
      failed: 'Not sent',
      retry: 'Try again',
      helpful: 'This helped',
      notHelpful: 'This did not help',
      feedbackGroup: 'Was this answer helpful?',
      feedbackThanks: 'Thanks for your feedback.',
      handoffBadge: 'Passed to our front desk team',
      suggestions: 'Or were you asking about:',
      emergencyBadge: 'Emergency',
      call911: 'Call 911',
      call988: 'Call or text 988',
      newConversation: 'Your earlier chat has expired, so we started a new one.',
      unread: 'new message',
      footer: 'In an emergency, call 911. This chat is not monitored for emergencies.',
      greetingFallback: 'Hi! How can we help you today?',
      staffName: '{name} (staff)',
      staffTyping: '{name} is typing…',
      someone: 'A staff member',
      queueWaiting: 'Waiting for a staff member. They will reply here.',
      queueNext: "You're next in line. A staff member will reply here.",
      queuePosition: "You're number {n} in line. A staff member will reply here.",
      queueNobody: 'No one from the front desk is online right now.',
      queueClosed: 'The clinic is closed right now.',
      queueLeave: "Leave a message below and we'll get back to you by phone or email during opening hours.",
      queueKept: 'Your messages are kept for the team.',
      owned: "You're chatting with {name} from the front desk.",
      ownedSomeone: 'A staff member from the front desk has joined the chat.',
      leaveTitle: 'Leave a message',
      leaveIntro: "We'll get back to you by phone or email during opening hours.",
      leaveName: 'Your name',
      leaveContact: 'Phone or email',
      leaveText: 'Message',
      leaveSend: 'Send message',
      leaveSending: 'Sending…',
      leaveRequired: 'Please fill in this field.',
      leaveBadContact: 'Please enter a phone number or an email address.',
      ticketOk: "Thanks, we'll get back to you by phone or email during opening hours.",
      errors: {
        rate_limited: "You're sending messages quickly - please wait a moment.",
        too_long: 'That message is too long. Please shorten it and send it again.',
        empty: 'Please type a message first.',
        internal: "Sorry, we couldn't save that message. Please try again in a moment.",
        not_found: "Sorry, we couldn't record that feedback.",
        generic: 'Sorry, something went wrong. Please try again.',
      },
    },
    es: {
      launcher: 'Escríbanos',
      dialog: 'Chat con {name}',
      subtitle: 'Asistente virtual de recepción',
      close: 'Cerrar el chat',
      log: 'Conversación',
      inputLabel: 'Su mensaje',
      placeholder: 'Escriba su pregunta…',
      send: 'Enviar',
      you: 'Usted dijo:',
      bot: 'El asistente dijo:',
      staff: 'Recepción',
      typing: 'Escribiendo…',
      connecting: 'Conectando…',
      reconnecting: 'Reconectando…',
      offline: 'Está sin conexión. Sus mensajes se enviarán cuando vuelva la conexión.',
      pending: 'Enviando…',
      queued: 'Esperando conexión…',
      failed: 'No enviado',
      retry: 'Reintentar',
      helpful: 'Esto me ayudó',
      notHelpful: 'Esto no me ayudó',
      feedbackGroup: '¿Le sirvió esta respuesta?',
      feedbackThanks: 'Gracias por su opinión.',
      handoffBadge: 'Enviado a nuestro equipo de recepción',
      suggestions: 'O quizá preguntaba por:',
      emergencyBadge: 'Emergencia',
      call911: 'Llamar al 911',
      call988: 'Llamar o textear al 988',
      newConversation: 'Su chat anterior expiró, así que empezamos uno nuevo.',
      unread: 'mensaje nuevo',
      footer: 'En una emergencia, llame al 911. Este chat no se vigila para emergencias.',
      greetingFallback: '¡Hola! ¿En qué podemos ayudarle hoy?',
      staffName: '{name} (personal)',
      staffTyping: '{name} está escribiendo…',
      someone: 'Una persona del equipo',
      queueWaiting: 'Esperando a una persona del equipo. Le responderá aquí.',
      queueNext: 'Usted es el siguiente en la fila. Una persona del equipo le responderá aquí.',
      queuePosition: 'Usted es el número {n} en la fila. Una persona del equipo le responderá aquí.',
      queueNobody: 'Ahora mismo no hay nadie de recepción en línea.',
      queueClosed: 'La clínica está cerrada en este momento.',
      queueLeave: 'Deje un mensaje abajo y le responderemos por teléfono o correo electrónico en horario de atención.',
      queueKept: 'Sus mensajes quedan guardados para el equipo.',
      owned: 'Está hablando con {name}, de recepción.',
      ownedSomeone: 'Una persona de recepción se unió al chat.',
      leaveTitle: 'Deje un mensaje',
      leaveIntro: 'Le responderemos por teléfono o correo electrónico en horario de atención.',
      leaveName: 'Su nombre',
      leaveContact: 'Teléfono o correo electrónico',
      leaveText: 'Mensaje',
      leaveSend: 'Enviar mensaje',
      leaveSending: 'Enviando…',
      leaveRequired: 'Complete este campo, por favor.',
      leaveBadContact: 'Escriba un número de teléfono o un correo electrónico.',
      ticketOk: 'Gracias, le responderemos por teléfono o correo electrónico en horario de atención.',
      errors: {
        rate_limited: 'Está enviando mensajes muy rápido; espere un momento, por favor.',
        too_long: 'Ese mensaje es demasiado largo. Acórtelo y envíelo de nuevo.',
        empty: 'Escriba un mensaje primero.',
        internal: 'Lo sentimos, no pudimos guardar ese mensaje. Inténtelo de nuevo en un momento.',
        not_found: 'Lo sentimos, no pudimos registrar su opinión.',
        generic: 'Lo sentimos, algo salió mal. Inténtelo de nuevo.',
      },
    },
  };
  const LANG = /^es\b/i.test(document.documentElement.getAttribute('lang') || '') ? 'es' : 'en';
  const T = STRINGS[LANG];

  function clinicName() {
    const fromScript = script && script.getAttribute('data-clinic');
    if (fromScript) return fromScript.trim();
    const meta = document.querySelector('meta[name="application-name"], meta[property="og:site_name"]');
    const v = meta && meta.getAttribute('content');
    return (v && v.trim()) || (LANG === 'es' ? 'Recepción' : 'Front desk');
  }

  // ---------------------------------------------------------------- storage (may be blocked)
  function store(kind, key, value) {
    try {
      const s = kind === 'session' ? window.sessionStorage : window.localStorage;
      if (value === undefined) return s.getItem(key);
      if (value === null) s.removeItem(key); else s.setItem(key, value);
    } catch (_) { /* storage disabled: the chat still works, it just won't survive a reload */ }
    return null;
  }

  // ---------------------------------------------------------------- DOM helpers
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

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const ICONS = {
    chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
    close: 'M6 6l12 12M18 6L6 18',
    send: 'M4 12l16-8-6 16-2.5-6.5z',
    up: 'M7 10v11H3V10zM7 10l4-8a3 3 0 0 1 3 3v4h5.5a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.1 21H7',
    down: 'M17 14V3h4v11zM17 14l-4 8a3 3 0 0 1-3-3v-4H4.5a2 2 0 0 1-2-2.3l1.4-8A2 2 0 0 1 5.9 3H17',
    phone: 'M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z',
    person: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0',
    alert: 'M12 3l10 18H2zM12 10v5M12 18v.5',
    cross: 'M10 3h4v7h7v4h-7v7h-4v-7H3v-4h7z',
  };
  function icon(name, cls) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'fd-icon' + (cls ? ' ' + cls : ''));
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', ICONS[name]);
    svg.append(p);
    return svg;
  }

  // Turns server text into text nodes and <a> elements: http(s) URLs, e-mail addresses, phone
  // numbers and the 911 / 988 emergency numbers. Never parses HTML.
  const LINK_RE = /(https?:\/\/[^\s<>"'`]+)|([\w.+-]+@[\w-]+(?:\.[\w-]+)+)|((?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4})|\b(911|988)\b/g;
  function linkify(text, into) {
    const frag = document.createDocumentFragment();
    let last = 0;
    LINK_RE.lastIndex = 0;
    let m;
    while ((m = LINK_RE.exec(text)) !== null) {
      let token = m[0];
      const start = m.index;
      const prev = start > 0 ? text[start - 1] : '';
      // Digits glued to other digits/dashes are not a phone number (e.g. a case number).
      if ((m[3] || m[4]) && /[\d-]/.test(prev)) continue;
      if (m[4] && /[\d-]/.test(text[start + token.length] || '')) continue;
      let href = null;
      if (m[1]) {
        // trailing punctuation ends the sentence, not the URL (a ")" is kept when it is balanced)
        while (/[.,;:!?'")\]}]$/.test(token)) {
          if (token.endsWith(')') && token.split('(').length >= token.split(')').length) break;
          token = token.slice(0, -1);
        }
        try {
          const u = new URL(token);
          if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
        } catch (_) { href = null; }
      } else if (m[2]) {
        token = token.replace(/\.+$/, '');
        href = 'mailto:' + token;
      } else {
        href = 'tel:' + token.replace(/[^\d+]/g, '');
      }
      if (!href) continue;
      if (start > last) frag.append(text.slice(last, start));
      const a = h('a', { href, class: href.startsWith('tel:') ? 'fd-link fd-link--tel' : 'fd-link', text: token });
      if (m[1]) { a.target = '_blank'; a.rel = 'noopener noreferrer'; }
      frag.append(a);
      last = start + token.length;
      LINK_RE.lastIndex = last;
    }
    if (last < text.length) frag.append(text.slice(last));
    into.append(frag);
    return into;
  }

  function byteLength(s) { return new TextEncoder().encode(s).length; }

  // ---------------------------------------------------------------- build the UI
  const NAME = clinicName();
  const host = h('div', { id: 'frontdesk-widget', 'data-frontdesk': '' });
  host.hidden = true; // shown once the stylesheet is in, so nothing flashes unstyled
  const root = host.attachShadow({ mode: 'open' });

  const cssLink = h('link', { rel: 'stylesheet', href: CSS_URL });
  let shown = false;
  const reveal = () => { if (!shown) { shown = true; host.hidden = false; } };
  cssLink.addEventListener('load', reveal);
  cssLink.addEventListener('error', reveal);
  setTimeout(reveal, 4000);

  const badge = h('span', { class: 'fd-badge', hidden: true },
    h('span', { class: 'fd-sr', text: '(' + T.unread + ')' }));
  const launcher = h('button', {
    type: 'button', class: 'fd-launcher', 'aria-expanded': 'false', 'aria-controls': 'fd-panel',
  }, icon('chat'), h('span', { class: 'fd-launcher-label', text: T.launcher }), badge);

  const closeBtn = h('button', { type: 'button', class: 'fd-close', 'aria-label': T.close }, icon('close'));
  const statusEl = h('div', { class: 'fd-status', role: 'status', hidden: true });
  // where the patient stands once a person was asked for: place in line, who joined, or the honest
  // "nobody is here" (polite live region, always in the tree so changes are announced)
  const queueEl = h('div', { class: 'fd-queue', role: 'status', 'aria-live': 'polite' });
  const log = h('div', {
    class: 'fd-log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
    'aria-label': T.log, tabindex: '0',
  });
  const typing = h('div', { class: 'fd-typing', hidden: true },
    h('span', { class: 'fd-dots', 'aria-hidden': 'true' }, h('span'), h('span'), h('span')),
    h('span', { class: 'fd-typing-text', text: T.typing }));
  const typingText = typing.querySelector('.fd-typing-text');
  const input = h('input', {
    id: 'fd-input', class: 'fd-input', type: 'text', autocomplete: 'off', enterkeyhint: 'send',
    placeholder: T.placeholder, 'aria-describedby': 'fd-foot',
  });
  const sendBtn = h('button', { type: 'submit', class: 'fd-send' },
    icon('send'), h('span', { class: 'fd-send-label', text: T.send }));
  const form = h('form', { class: 'fd-form', novalidate: true },
    h('label', { for: 'fd-input', class: 'fd-sr', text: T.inputLabel }), input, sendBtn);

  const panel = h('section', {
    id: 'fd-panel', class: 'fd-panel', role: 'dialog', 'aria-label': T.dialog.replace('{name}', NAME),
    hidden: true,
  },
  h('header', { class: 'fd-header' },
    h('span', { class: 'fd-avatar', 'aria-hidden': 'true' }, icon('cross')),
    h('div', { class: 'fd-heading' },
      h('h2', { class: 'fd-title', id: 'fd-title', text: NAME }),
      h('p', { class: 'fd-subtitle', text: T.subtitle })),
    closeBtn),
  statusEl, queueEl, log, typing, form,
  h('p', { class: 'fd-foot', id: 'fd-foot', text: T.footer }));

  root.append(cssLink, h('div', { class: 'fd-root', lang: LANG }, launcher, panel));

  function mount() { document.body.append(host); }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount, { once: true });

  // ---------------------------------------------------------------- open / close
  function isOpen() { return !panel.hidden; }
  function openPanel({ focus = true } = {}) {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute('aria-expanded', 'true');
    badge.hidden = true;
    store('session', OPEN_KEY, '1');
    connect();
    scrollToEnd();
    if (focus) input.focus();
  }
  function closePanel() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute('aria-expanded', 'false');
    store('session', OPEN_KEY, null);
    launcher.focus();
  }
  launcher.addEventListener('click', () => openPanel());
  closeBtn.addEventListener('click', closePanel);
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !e.isComposing) { e.preventDefault(); e.stopPropagation(); closePanel(); }
  });

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }
  function appendRow(row) {
    log.append(row);
    scrollToEnd();
  }

  // ---------------------------------------------------------------- status line
  let statusTimer = null;
  function setStatus(kind) {
    clearTimeout(statusTimer);
    if (!kind) { statusEl.hidden = true; statusEl.textContent = ''; statusEl.className = 'fd-status'; return; }
    const show = () => {
      statusEl.textContent = T[kind];
      statusEl.className = 'fd-status fd-status--' + kind;
      statusEl.hidden = false;
    };
    // a first connect is usually instant: only say "Connecting…" if it is not
    if (kind === 'connecting') statusTimer = setTimeout(show, 700); else show();
  }

  // ---------------------------------------------------------------- rendering
  const seen = new Set();          // event ids already in the log: nothing is shown twice
  const rowsById = new Map();      // event id -> row element
  let lastId = 0;                  // highest event id seen (for hello "since")
  let greeted = false;

  function noteSeen(id) {
    if (typeof id !== 'number') return;
    seen.add(id);
    if (id > lastId) lastId = id;
  }

  function timeLabel(ts) {
    if (!ts) return null;
    const d = new Date(ts);
    if (Number.isNaN(d.getTime())) return null;
    return d.toLocaleString(LANG === 'es' ? 'es' : undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  function patientRow(text, { id, clientId, state, ts } = {}) {
    const meta = h('span', { class: 'fd-meta' });
    const row = h('div', { class: 'fd-row fd-row--patient', 'data-role': 'patient', 'data-type': 'message' },
      h('div', { class: 'fd-bubble', title: timeLabel(ts) },
        h('span', { class: 'fd-sr', text: T.you + ' ' }),
        h('span', { class: 'fd-text', text })),
      meta);
    if (id !== undefined) { row.dataset.id = String(id); rowsById.set(id, row); }
    if (clientId) row.dataset.clientId = clientId;
    setPatientState(row, state || 'sent');
    return row;
  }

  function setPatientState(row, state, extra) {
    row.dataset.state = state;
    const meta = row.querySelector('.fd-meta');
    meta.replaceChildren();
    if (state === 'pending') meta.append(T.pending);
    else if (state === 'queued') meta.append(T.queued);
    else if (state === 'failed') {
      meta.append(h('span', { class: 'fd-failed', text: T.failed }));
      if (extra) meta.append(' ', extra);
    }
    row.setAttribute('aria-busy', state === 'pending' || state === 'queued' ? 'true' : 'false');
  }

  function feedbackGroup(ev) {
    const up = h('button', { type: 'button', class: 'fd-thumb', 'aria-label': T.helpful, 'aria-pressed': 'false' }, icon('up'));
    const down = h('button', { type: 'button', class: 'fd-thumb', 'aria-label': T.notHelpful, 'aria-pressed': 'false' }, icon('down'));
    const thanks = h('span', { class: 'fd-thanks', hidden: true, text: T.feedbackThanks });
    const group = h('div', { class: 'fd-feedback', role: 'group', 'aria-label': T.feedbackGroup }, up, down, thanks);
    let current = typeof ev.helpful === 'boolean' ? ev.helpful : null;
    let previous = current;
    const mark = (helpful) => {
      up.setAttribute('aria-pressed', String(helpful === true));
      down.setAttribute('aria-pressed', String(helpful === false));
    };
    mark(current);
    const click = (helpful) => {
      previous = current;
      current = helpful;
      mark(helpful);
      sendFeedback(ev.id, helpful);
    };
    up.addEventListener('click', () => click(true));
    down.addEventListener('click', () => click(false));
    group._revert = () => { current = previous; mark(current); };
    group._thanks = thanks;
    return group;
  }

  function badgeLine(iconName, text, cls) {
    return h('p', { class: 'fd-tag ' + cls }, icon(iconName), h('span', { text }));
  }

  function botRow(ev) {
    const type = ev.type === 'handoff' || ev.type === 'emergency' ? ev.type : 'answer';
    const textEl = linkify(ev.text || '', h('p', { class: 'fd-text' }));
    const bubble = h('div', { class: 'fd-bubble', title: timeLabel(ev.ts) }, h('span', { class: 'fd-sr', text: T.bot + ' ' }));
    const row = h('div', { class: 'fd-row fd-row--bot fd-row--' + type, 'data-role': 'bot', 'data-type': type }, bubble);
    if (typeof ev.id === 'number') { row.dataset.id = String(ev.id); rowsById.set(ev.id, row); }
    if (ev.entry) row.dataset.entry = String(ev.entry);
    if (typeof ev.reply_to === 'number') row.dataset.replyTo = String(ev.reply_to);

    if (type === 'emergency') {
      row.setAttribute('role', 'alert');
      bubble.append(badgeLine('alert', T.emergencyBadge, 'fd-tag--emergency'), textEl);
      const text = ev.text || '';
      const calls = h('div', { class: 'fd-calls' });
      if (/\b911\b/.test(text) || !/\b988\b/.test(text)) {
        calls.append(h('a', { class: 'fd-call', href: 'tel:911' }, icon('phone'), h('span', { text: T.call911 })));
      }
      if (/\b988\b/.test(text)) {
        calls.append(h('a', { class: 'fd-call fd-call--secondary', href: 'tel:988' }, icon('phone'), h('span', { text: T.call988 })));
      }
      bubble.append(calls);
    } else if (type === 'handoff') {
      bubble.append(badgeLine('person', T.handoffBadge, 'fd-tag--handoff'), textEl);
      if (ev.reason) row.dataset.reason = String(ev.reason);
      const sugg = Array.isArray(ev.suggestions) ? ev.suggestions.filter((s) => s && typeof s.question === 'string' && s.question.trim()) : [];
      if (sugg.length) {
        const list = h('ul', { class: 'fd-suggestions' });
        for (const s of sugg.slice(0, 4)) {
          list.append(h('li', null, h('button', {
            type: 'button', class: 'fd-suggestion', 'data-entry': s.entry || null, text: s.question,
            onclick: () => { sendMessage(s.question); input.focus(); },
          })));
        }
        row.append(h('div', { class: 'fd-suggest' }, h('p', { class: 'fd-suggest-intro', text: T.suggestions }), list));
      }
    } else {
      bubble.append(textEl);
      if (typeof ev.id === 'number') row.append(feedbackGroup(ev));
    }
    return row;
  }

  function staffLabel(name) {
    const n = typeof name === 'string' ? name.trim() : '';
    return n ? T.staffName.replace('{name}', n) : T.staff;
  }

  // A message from a person at the clinic: "Maria (staff)", not the bot's look.
  function staffRow(ev) {
    const row = h('div', { class: 'fd-row fd-row--bot fd-row--staff', 'data-role': 'staff', 'data-type': 'message' },
      h('div', { class: 'fd-bubble', title: timeLabel(ev.ts) },
        badgeLine('person', staffLabel(ev.name), 'fd-tag--staff'),
        linkify(ev.text || '', h('p', { class: 'fd-text' }))));
    if (typeof ev.id === 'number') { row.dataset.id = String(ev.id); rowsById.set(ev.id, row); }
    if (ev.name) row.dataset.name = String(ev.name);
    return row;
  }

  // claimed / transferred / handback / resolved: a small centred notice.
  function systemRow(ev) {
    const row = h('div', { class: 'fd-row fd-note fd-note--system', 'data-role': 'system', 'data-type': String(ev.type || 'notice') },
      h('p', { class: 'fd-text', title: timeLabel(ev.ts), text: ev.text }));
    if (typeof ev.id === 'number') { row.dataset.id = String(ev.id); rowsById.set(ev.id, row); }
    return row;
  }

  function noteRow(text, kind) {
    return h('div', { class: 'fd-row fd-note' + (kind ? ' fd-note--' + kind : ''), 'data-role': 'system' },
      h('p', { class: 'fd-text', text }));
  }

  function greetingRow(text) {
    return h('div', { class: 'fd-row fd-row--bot fd-row--greeting', 'data-role': 'bot', 'data-type': 'greeting' },
      h('div', { class: 'fd-bubble' }, h('span', { class: 'fd-sr', text: T.bot + ' ' }),
        linkify(text, h('p', { class: 'fd-text' }))));
  }

  let lastErrorNote = { code: '', at: 0 };
  function showError(code, serverMessage) {
    const now = Date.now();
    if (lastErrorNote.code === code && now - lastErrorNote.at < 4000) return; // don't flood the log
    lastErrorNote = { code, at: now };
    const text = T.errors[code] || T.errors.generic;
    appendRow(noteRow(text, 'error'));
    if (serverMessage && !T.errors[code]) console.warn('frontdesk:', code, serverMessage);
  }

  // ---------------------------------------------------------------- typing indicator
  const awaiting = new Set();       // patient event ids acked but not answered yet
  let typingTimer = null;
  let staffTyping = '';             // name of the staff member typing right now, if any
  let staffTypingTimer = null;
  function updateTyping() {
    const on = awaiting.size > 0 || !!staffTyping;
    const wasHidden = typing.hidden;
    typingText.textContent = staffTyping ? T.staffTyping.replace('{name}', staffTyping) : T.typing;
    typing.hidden = !on;
    clearTimeout(typingTimer);
    // a reply normally comes in a second; if a person has to answer instead, stop "typing"
    if (awaiting.size > 0) typingTimer = setTimeout(() => { awaiting.clear(); updateTyping(); }, 30000);
    if (on && wasHidden) scrollToEnd();
  }
  function setStaffTyping(name) {
    clearTimeout(staffTypingTimer);
    staffTyping = name || '';
    // a lost "typing:false" must not leave the indicator up for ever
    if (staffTyping) staffTypingTimer = setTimeout(() => setStaffTyping(''), 10000);
    updateTyping();
  }
  function replied(replyTo) {
    if (typeof replyTo === 'number') awaiting.delete(replyTo); else awaiting.clear();
    updateTyping();
  }

  // ---------------------------------------------------------------- with the front desk (docs/staff-protocol.md)
  // bot | waiting | owned | ticket. While waiting (or after leaving a message) the bot still answers
  // what it knows; once a person owns the chat it says nothing (docs/staff-protocol.md).
  let convStatus = 'bot';
  let staffName = '';               // display name of the staff member who owns the chat
  let place = null;                 // last {"type":"queue"} frame: position, staff_online, open
  let handoffInfo = null;           // after_hours / nobody_online / leave_message of the last handoff
  let lastKind = '';                // type of the last bot event (an emergency gets no "waiting" line)
  let lastHandoff = null;           // the last handoff event seen (live or in history)
  let ticketSent = false;
  let leave = null;                 // the leave-a-message form in the log: {row, form, fields, button, frame}

  function personPhase() { return convStatus === 'waiting' || convStatus === 'owned'; }

  function setConvStatus(status, name) {
    const prev = convStatus;
    convStatus = ['waiting', 'owned', 'ticket'].includes(status) ? status : 'bot';
    if (typeof name === 'string' && name) staffName = name;
    if (convStatus === 'bot') { staffName = ''; place = null; handoffInfo = null; setStaffTyping(''); }
    if (convStatus !== prev && (convStatus === 'owned' || convStatus === 'bot')) dropLeaveForm();
    if (!personPhase()) stopPatientTyping();
    if (convStatus === 'owned') { awaiting.clear(); updateTyping(); } // the bot won't answer now
    updateQueueStatus();
  }

  function updateQueueStatus() {
    let text = '';
    let kind = '';
    if (convStatus === 'owned') {
      text = staffName ? T.owned.replace('{name}', staffName) : T.ownedSomeone;
      kind = 'owned';
    } else if (ticketSent) {
      text = T.ticketOk;
      kind = 'ticket';
    } else if (convStatus === 'waiting' || convStatus === 'ticket') {
      const closed = place ? place.open === false : !!(handoffInfo && handoffInfo.after_hours);
      const nobody = place ? place.staff_online === 0 : !!(handoffInfo && handoffInfo.nobody_online);
      if (closed || nobody) {
        text = (closed ? T.queueClosed : T.queueNobody) + ' ' + (leave ? T.queueLeave : T.queueKept);
        kind = 'away';
      } else if (place && typeof place.position === 'number' && place.position >= 1) {
        text = place.position === 1 ? T.queueNext : T.queuePosition.replace('{n}', String(place.position));
        kind = 'waiting';
      } else if (place || lastKind !== 'emergency') {
        text = T.queueWaiting;
        kind = 'waiting';
      }
    }
    if (queueEl.textContent !== text) queueEl.textContent = text;
    queueEl.className = 'fd-queue' + (kind ? ' fd-queue--' + kind : '');
  }

  function onQueueFrame(msg) {
    place = {
      position: typeof msg.position === 'number' ? msg.position : null,
      staff_online: typeof msg.staff_online === 'number' ? msg.staff_online : null,
      open: msg.open !== false,
    };
    if (convStatus === 'bot') setConvStatus('waiting'); else updateQueueStatus();
  }

  // "Maria is typing…" while a staff member writes (not stored; a lost "false" times out)
  function onStaffTyping(msg) {
    if (msg.typing) setStaffTyping(typeof msg.name === 'string' && msg.name ? msg.name : (staffName || T.someone));
    else setStaffTyping('');
  }

  // The patient typing, told to the staff member (only while a person is on the chat). Not tracked in
  // `inflight`: the server does not answer it.
  let typingSent = false;
  let typingSentAt = 0;
  let typingIdleTimer = null;
  function sendTyping(on) {
    if (!session || !ws || ws.readyState !== WebSocket.OPEN) return false;
    try { ws.send(JSON.stringify({ type: 'typing', typing: on })); } catch (_) { return false; }
    return true;
  }
  function stopPatientTyping() {
    clearTimeout(typingIdleTimer);
    if (typingSent) sendTyping(false);
    typingSent = false;
  }
  input.addEventListener('input', () => {
    if (!personPhase()) return;
    if (!input.value.trim()) { stopPatientTyping(); return; }
    const now = Date.now();
    if (!typingSent || now - typingSentAt > 5000) {
      if (sendTyping(true)) { typingSent = true; typingSentAt = now; }
    }
    clearTimeout(typingIdleTimer);
    typingIdleTimer = setTimeout(stopPatientTyping, 3000);
  });

  // ---------------------------------------------------------------- leave a message (nobody online / closed)
  let leaveSeq = 0;
  function lastQuestion(handoff) {
    const row = handoff && typeof handoff.reply_to === 'number' ? rowsById.get(handoff.reply_to) : null;
    const el = (row && row.querySelector('.fd-text')) || [...log.querySelectorAll('.fd-row--patient .fd-text')].pop();
    return el ? el.textContent : '';
  }

  function showLeaveForm(handoff) {
    if (leave || ticketSent) return;
    const n = ++leaveSeq;
    const mk = (key, label, control) => {
      const id = 'fd-leave-' + n + '-' + key;
      const errId = id + '-err';
      control.id = id;
      control.setAttribute('aria-describedby', errId);
      const err = h('p', { class: 'fd-field-error', id: errId });
      return { key, control, err, el: h('div', { class: 'fd-field' }, h('label', { for: id, text: label }), control, err) };
    };
    const name = mk('name', T.leaveName, h('input', { type: 'text', class: 'fd-field-input', autocomplete: 'name', required: true, maxlength: '200' }));
    const contact = mk('contact', T.leaveContact, h('input', { type: 'text', class: 'fd-field-input', autocomplete: 'on', required: true, maxlength: '200', spellcheck: 'false' }));
    const text = mk('text', T.leaveText, h('textarea', { class: 'fd-field-input fd-field-text', required: true, rows: '3', maxlength: '4000' }));
    text.control.value = lastQuestion(handoff);
    const button = h('button', { type: 'submit', class: 'fd-leave-send', text: T.leaveSend });
    const titleId = 'fd-leave-' + n + '-title';
    const formEl = h('form', { class: 'fd-leave-form', novalidate: true, 'aria-labelledby': titleId },
      h('p', { class: 'fd-leave-title', id: titleId, text: T.leaveTitle }),
      h('p', { class: 'fd-leave-intro', text: T.leaveIntro }),
      name.el, contact.el, text.el, button);
    const row = h('div', { class: 'fd-row fd-leave', 'data-role': 'form', 'data-type': 'leave_message' }, formEl);
    leave = { row, form: formEl, fields: [name, contact, text], button, frame: null };
    formEl.addEventListener('submit', (e) => { e.preventDefault(); submitLeave(); });
    appendRow(row);
    updateQueueStatus();
  }

  function dropLeaveForm() {
    if (!leave) return;
    const hadFocus = leave.row.contains(root.activeElement);
    leave.row.remove();
    leave = null;
    if (hadFocus) input.focus();
  }

  function validContact(v) {
    return /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/.test(v) || (v.match(/\d/g) || []).length >= 7;
  }

  function submitLeave() {
    if (!leave || leave.frame) return;
    let firstBad = null;
    for (const f of leave.fields) {
      const v = f.control.value.trim();
      let msg = '';
      if (!v) msg = T.leaveRequired;
      else if (f.key === 'contact' && !validContact(v)) msg = T.leaveBadContact;
      else if (f.key === 'text' && byteLength(v) > MAX_TEXT_BYTES) msg = T.errors.too_long;
      f.err.textContent = msg;
      if (msg) { f.control.setAttribute('aria-invalid', 'true'); if (!firstBad) firstBad = f.control; }
      else f.control.removeAttribute('aria-invalid');
    }
    if (firstBad) { firstBad.focus(); return; }
    const [name, contact, text] = leave.fields.map((f) => f.control.value.trim());
    leave.frame = { type: 'leave_message', name, contact, text };
    leave.button.disabled = true;
    leave.button.textContent = T.leaveSending;
    leave.form.setAttribute('aria-busy', 'true');
    transmitLeave();
  }

  function transmitLeave() {
    if (!leave || !leave.frame) return;
    if (!session || !rawSend(leave.frame, 'leave', leave)) { connect(); return; } // sent after the next welcome
  }

  function leaveFailed(code, message) {
    if (!leave) return;
    leave.frame = null;
    leave.button.disabled = false;
    leave.button.textContent = T.leaveSend;
    leave.form.setAttribute('aria-busy', 'false');
    showError(code, message);
  }

  // The message left, as the patient's own bubble, and the confirmation under it (live and in history).
  function ticketRows(text, id, ts) {
    const mine = patientRow(text, { id, ts });
    mine.dataset.type = 'ticket';
    const ok = h('div', { class: 'fd-row fd-note fd-note--ticket', 'data-role': 'system', 'data-type': 'ticket_ok' },
      h('p', { class: 'fd-text', text: T.ticketOk }));
    return [mine, ok];
  }

  function onTicketOk(msg) {
    takeInflight('leave');
    ticketSent = true;
    const id = msg && typeof msg.id === 'number' ? msg.id : undefined;
    if (id !== undefined && seen.has(id)) { dropLeaveForm(); updateQueueStatus(); return; }
    if (leave) {
      const hadFocus = leave.row.contains(root.activeElement);
      const text = leave.frame ? leave.frame.text : '';
      leave.row.replaceWith(...ticketRows(text, id));
      leave = null;
      if (hadFocus) input.focus();
      scrollToEnd();
    }
    noteSeen(id);
    updateQueueStatus();
  }

  // ---------------------------------------------------------------- connection
  let ws = null;
  let session = false;              // welcome received on the current socket
  let attempts = 0;
  let retryTimer = null;
  let pingTimer = null;
  let lastFrameAt = 0;
  let wanted = false;               // connect() was asked for at least once
  const inflight = [];              // frames sent, waiting for their direct reply (welcome/ack/feedback_ok/pong/error)
  const outbox = [];                // patient messages not acked yet: {clientId, text, row, tries}
  const feedbackQueue = new Map();  // event id -> helpful, to send once connected
  let cidCounter = 0;
  const cidPrefix = Math.random().toString(36).slice(2, 8);

  function connect() {
    wanted = true;
    if (ws) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    if (navigator.onLine === false) { setStatus('offline'); return; }
    setStatus(attempts ? 'reconnecting' : 'connecting');
    let sock;
    try {
      sock = new WebSocket(WS_URL, SUBPROTOCOL);
    } catch (_) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.addEventListener('open', () => {
      if (sock !== ws) return;
      lastFrameAt = Date.now();
      sendHello();
    });
    sock.addEventListener('message', (e) => {
      if (sock !== ws) return;
      lastFrameAt = Date.now();
      let msg;
      try { msg = JSON.parse(e.data); } catch (_) { return; }
      if (msg && typeof msg === 'object') handleFrame(msg);
    });
    sock.addEventListener('close', () => { if (sock === ws) dropped(); });
  }

  function dropped() {
    const sock = ws;
    ws = null;
    session = false;
    inflight.length = 0;
    clearInterval(pingTimer);
    if (sock) {
      try { sock.close(); } catch (_) { /* already closing */ }
    }
    // messages sent on the dead socket may or may not be stored: resend them after the
    // next welcome unless the history shows they made it
    for (const m of outbox) if (m.row.dataset.state === 'pending') setPatientState(m.row, 'queued');
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (retryTimer) return;
    if (navigator.onLine === false) { setStatus('offline'); return; }
    setStatus('reconnecting');
    const delay = Math.min(15000, 500 * 2 ** Math.min(attempts, 5)) * (0.75 + Math.random() * 0.5);
    attempts++;
    retryTimer = setTimeout(() => { retryTimer = null; connect(); }, delay);
  }

  window.addEventListener('online', () => {
    if (!wanted || ws) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    attempts = Math.max(attempts, 1);
    connect();
  });
  window.addEventListener('offline', () => { if (wanted && !session) setStatus('offline'); });

  function rawSend(frame, kind, ref) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    try { ws.send(JSON.stringify(frame)); } catch (_) { return false; }
    inflight.push({ kind, ref });
    return true;
  }

  function sendHello(fresh) {
    const token = fresh ? null : store('local', STORE_KEY);
    const frame = { type: 'hello' };
    if (token) {
      frame.token = token;
      if (lastId > 0) frame.since = lastId;
    }
    if (LANG === 'es') frame.lang = 'es';
    rawSend(frame, 'hello', { resumedFrom: token });
  }

  function startPing() {
    clearInterval(pingTimer);
    pingTimer = setInterval(() => {
      if (!session) return;
      if (Date.now() - lastFrameAt > 60000) { dropped(); return; } // the socket went silent
      rawSend({ type: 'ping' }, 'ping');
    }, 25000);
  }

  function takeInflight(kind, match) {
    const i = inflight.findIndex((f) => f.kind === kind && (!match || match(f.ref)));
    if (i < 0) return null;
    return inflight.splice(i, 1)[0];
  }

  // ---------------------------------------------------------------- frames from the server
  function handleFrame(msg) {
    switch (msg.type) {
      case 'welcome': return onWelcome(msg);
      case 'ack': return onAck(msg);
      case 'answer': case 'handoff': case 'emergency': return onBotEvent(msg, true);
      case 'feedback_ok': return onFeedbackOk(msg);
      case 'pong': takeInflight('ping'); return undefined;
      case 'error': return onError(msg);
      case 'queue': return onQueueFrame(msg);
      case 'typing': return onStaffTyping(msg);
      case 'ticket_ok': return onTicketOk(msg);
      default:
        // a live staff/system event, if the server sends them
        if ((msg.role === 'staff' || msg.role === 'system') && typeof msg.text === 'string') return onHistoryEvent(msg, true);
        return undefined;
    }
  }

  function onWelcome(msg) {
    takeInflight('hello');
    session = true;
    attempts = 0;
    setStatus(null);
    startPing();
    if (typeof msg.token === 'string' && msg.token) store('local', STORE_KEY, msg.token);

    if (!greeted) {
      greeted = true;
      appendRow(greetingRow(typeof msg.greeting === 'string' && msg.greeting ? msg.greeting : T.greetingFallback));
    }
    const history = Array.isArray(msg.history) ? msg.history : [];
    log.setAttribute('aria-busy', 'true');
    for (const ev of history) onHistoryEvent(ev, false);
    log.setAttribute('aria-busy', 'false');
    // who answers now (a person, or the bot) is the server's word, not what the history suggests
    if (msg.status === 'ticket') ticketSent = true;
    setConvStatus(typeof msg.status === 'string' ? msg.status : 'bot');
    if (convStatus === 'waiting' && lastHandoff && lastHandoff.leave_message) {
      if (!handoffInfo) handoffInfo = { after_hours: !!lastHandoff.after_hours, nobody_online: !!lastHandoff.nobody_online, leave_message: true };
      if (!ticketSent) showLeaveForm(lastHandoff);
    }
    updateQueueStatus();
    scrollToEnd();

    // now deliver what was typed while we were away
    for (const m of outbox.slice()) transmit(m);
    for (const [id, helpful] of feedbackQueue) sendFeedback(id, helpful);
    if (leave && leave.frame) { if (ticketSent) onTicketOk(); else transmitLeave(); }
  }

  function onHistoryEvent(ev, live) {
    if (!ev || typeof ev !== 'object') return;
    const id = ev.id;
    if (typeof id === 'number' && seen.has(id)) return;
    const role = ev.role || (ev.type === 'message' ? 'patient' : 'bot');
    if (role === 'patient') {
      // one of ours that was sent before a drop, and stored after all: adopt it
      const text = typeof ev.text === 'string' ? ev.text : '';
      const cid = ev.client_id !== undefined && ev.client_id !== null ? String(ev.client_id) : null;
      const mine = outbox.find((m) => m.tries > 0 && (cid ? m.clientId === cid : m.text === text.trim()));
      if (mine) {
        settle(mine, id);
        return;
      }
      noteSeen(id);
      if (ev.type === 'ticket' || ev.type === 'leave_message') {
        ticketSent = true;
        for (const r of ticketRows(text, id, ev.ts)) appendRow(r);
        return;
      }
      appendRow(patientRow(text, { id, ts: ev.ts }));
      return;
    }
    noteSeen(id);
    if (role === 'bot' && (ev.type === 'answer' || ev.type === 'handoff' || ev.type === 'emergency')) {
      appendRow(botRow(ev));
      lastKind = ev.type;
      if (ev.type === 'handoff') lastHandoff = ev;
      if (typeof ev.reply_to === 'number') awaiting.delete(ev.reply_to);
      updateTyping();
    } else if (role === 'staff') {
      if (ev.type === 'note') return; // never sent to patients; ignore one if it ever came
      appendRow(staffRow(ev));
      if (ev.name && !staffName) staffName = String(ev.name);
      if (live) setStaffTyping('');
      replied(ev.reply_to);
      if (live && convStatus !== 'owned') setConvStatus('owned', ev.name);
    } else if (role === 'system') {
      if (typeof ev.text === 'string' && ev.text) appendRow(systemRow(ev));
      const t = ev.type;
      if (t === 'claimed' || t === 'transferred') {
        if (ev.name) staffName = String(ev.name);
        if (live) setConvStatus('owned', ev.name);
      } else if (t === 'handback' || t === 'resolved') {
        if (live) setConvStatus('bot');
      }
      if (live) updateQueueStatus();
    } else if (typeof ev.text === 'string' && ev.text) {
      appendRow(noteRow(ev.text));
    }
    if (live && !isOpen() && role !== 'system') badge.hidden = false;
  }

  function onBotEvent(msg) {
    if (typeof msg.id === 'number' && seen.has(msg.id)) return;
    noteSeen(msg.id);
    appendRow(botRow(msg));
    replied(msg.reply_to);
    if (!isOpen()) badge.hidden = false;
    lastKind = msg.type;
    if (msg.type === 'handoff') {
      // queued for a person (or, already waiting, one more question added for the team)
      lastHandoff = msg;
      const flags = { after_hours: !!msg.after_hours, nobody_online: !!msg.nobody_online, leave_message: !!msg.leave_message };
      if (convStatus === 'bot') { place = null; handoffInfo = flags; setConvStatus('waiting'); }
      else {
        if (flags.after_hours || flags.nobody_online || flags.leave_message) handoffInfo = flags;
        updateQueueStatus();
      }
      if (msg.leave_message && !ticketSent) showLeaveForm(msg);
    } else if (msg.type === 'emergency' && convStatus === 'bot') {
      setConvStatus('waiting'); // queued at the top for staff
    }
  }

  function settle(m, id) {
    const i = outbox.indexOf(m);
    if (i >= 0) outbox.splice(i, 1);
    if (typeof id === 'number') {
      noteSeen(id);
      m.row.dataset.id = String(id);
      rowsById.set(id, m.row);
    }
    setPatientState(m.row, 'sent');
  }

  function onAck(msg) {
    let f = takeInflight('message', (m) => msg.client_id !== undefined && m.clientId === String(msg.client_id));
    if (!f && msg.client_id === undefined) f = takeInflight('message');
    const m = f ? f.ref : outbox.find((x) => x.clientId === String(msg.client_id));
    if (!m) { noteSeen(msg.id); return; }
    settle(m, msg.id);
    // the bot answers unless a person owns the chat
    if (typeof msg.id === 'number' && convStatus !== 'owned') { awaiting.add(msg.id); updateTyping(); }
  }

  function onFeedbackOk(msg) {
    const f = takeInflight('feedback', (r) => r.id === msg.message);
    const id = f ? f.ref.id : msg.message;
    if (feedbackQueue.get(id) === (f && f.ref.helpful)) feedbackQueue.delete(id);
    const row = rowsById.get(id);
    const group = row && row.querySelector('.fd-feedback');
    if (group && group._thanks) group._thanks.hidden = false;
  }

  function onError(msg) {
    const code = typeof msg.code === 'string' ? msg.code : 'generic';
    // The server answers frames in order, so the error belongs to the oldest unanswered frame.
    const f = inflight.shift();
    if (code === 'bad_token') {
      store('local', STORE_KEY, null);
      lastId = 0;
      appendRow(noteRow(T.newConversation));
      sendHello(true);
      return;
    }
    if (code === 'no_session') {
      if (f && f.kind === 'message') setPatientState(f.ref.row, 'queued');
      session = false;
      sendHello();
      return;
    }
    if (f && f.kind === 'message') {
      const m = f.ref;
      if (code === 'rate_limited') {
        setPatientState(m.row, 'queued');
        showError(code, msg.message);
        setTimeout(() => { if (outbox.includes(m) && m.row.dataset.state === 'queued') transmit(m); }, 1500 + Math.random() * 1000);
        return;
      }
      const i = outbox.indexOf(m);
      if (i >= 0) outbox.splice(i, 1);
      const retry = code === 'internal'
        ? h('button', { type: 'button', class: 'fd-retry', text: T.retry, onclick: () => {
          m.tries = 0;
          outbox.push(m);
          transmit(m);
        } })
        : null;
      setPatientState(m.row, 'failed', retry);
      showError(code, msg.message);
      return;
    }
    if (f && f.kind === 'feedback') {
      if (code === 'rate_limited') {
        setTimeout(() => sendFeedback(f.ref.id, f.ref.helpful), 1500);
        return;
      }
      feedbackQueue.delete(f.ref.id);
      const row = rowsById.get(f.ref.id);
      const group = row && row.querySelector('.fd-feedback');
      if (group && group._revert) group._revert();
      showError(code === 'not_found' ? 'not_found' : 'generic', msg.message);
      return;
    }
    if (f && f.kind === 'ping') return; // a dropped keep-alive is harmless
    if (f && f.kind === 'leave') {
      if (code === 'rate_limited') { setTimeout(transmitLeave, 1500 + Math.random() * 1000); return; }
      leaveFailed(code, msg.message);
      return;
    }
    if (f && f.kind === 'hello') {
      // could not start/resume: try again on a fresh connection
      if (code === 'rate_limited') { setTimeout(() => sendHello(), 1500); return; }
      dropped();
      return;
    }
    showError(code, msg.message);
  }

  // ---------------------------------------------------------------- sending
  function transmit(m) {
    if (!session) {
      setPatientState(m.row, 'queued');
      return;
    }
    const sent = rawSend({ type: 'message', text: m.text, client_id: m.clientId }, 'message', m);
    if (sent) {
      m.tries++;
      setPatientState(m.row, 'pending');
    } else {
      setPatientState(m.row, 'queued');
    }
  }

  function sendMessage(raw) {
    const text = String(raw || '').trim();
    if (!text) return false;
    if (byteLength(text) > MAX_TEXT_BYTES) { showError('too_long'); return false; }
    const clientId = cidPrefix + '-' + (++cidCounter);
    const row = patientRow(text, { clientId, state: session ? 'pending' : 'queued' });
    appendRow(row);
    const m = { clientId, text, row, tries: 0 };
    outbox.push(m);
    transmit(m);
    if (!ws) connect();
    return true;
  }

  function sendFeedback(id, helpful) {
    if (typeof id !== 'number') return;
    feedbackQueue.set(id, helpful);
    if (!session) { connect(); return; }
    // drop an older queued copy in flight for the same event; the server keeps the last one
    rawSend({ type: 'feedback', message: id, helpful }, 'feedback', { id, helpful });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) { input.focus(); return; }
    stopPatientTyping();
    if (sendMessage(text)) input.value = '';
    input.focus();
  });

  // ---------------------------------------------------------------- start
  // Resume straight away if this browser already has a conversation with this server, so
  // replies that came in while the page was away are there (and the badge can show).
  if (store('local', STORE_KEY)) connect();
  if (store('session', OPEN_KEY) === '1') {
    const reopen = () => openPanel({ focus: false });
    if (document.body) reopen(); else document.addEventListener('DOMContentLoaded', reopen, { once: true });
  }
})();
