/*
 * frontdesk staff console (web/staff.html): the live queue of chats waiting for a person, the
 * transcript of the open chat, and the actions on it (take over, reply, note, transfer, hand back,
 * resolve). Speaks the console protocol of docs/staff-protocol.md over ws(s)://<this origin>/ws,
 * subprotocol "frontdesk-staff", with the session cookie set by /login.
 *
 * Strict-CSP friendly: no inline script or style, no innerHTML anywhere. Every piece of server or
 * patient text goes into the page with textContent (a patient may well type "<script>").
 */
(() => {
  'use strict';

  const SUBPROTOCOL = 'frontdesk-staff';
  const WS_URL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  const BASE_TITLE = 'frontdesk staff';
  const LOGIN_URL = '/login?next=' + encodeURIComponent('/staff');
  const TICK_MS = 5000;           // wait times refresh
  const PING_MS = 25000;
  const SILENT_MS = 70000;        // no frame for this long: the socket is dead, reconnect
  const TYPING_REFRESH_MS = 4000; // resend typing:true at most this often while typing
  const TYPING_IDLE_MS = 3000;    // typing:false after this long without a keystroke
  const PATIENT_TYPING_MS = 8000; // hide "Patient is typing…" if no update comes
  const MAX_TEXT = 4000;

  const REASONS = {
    emergency: 'Emergency',
    asked_for_person: 'Asked for a person',
    low_confidence: 'Bot not sure',
    ticket: 'Message left (ticket)',
  };
  const SYSTEM_WORDS = {
    claimed: 'took over the chat',
    transferred: 'transferred the chat',
    handback: 'handed the chat back to the bot',
    resolved: 'resolved the chat',
  };
  const ERRORS = {
    already_claimed: 'Someone else has already taken this chat.',
    not_owner: 'Only the staff member who took over this chat can do that. Take it over first.',
    resolved: 'This chat is closed: the patient will not see new replies.',
    not_found: 'That chat is no longer on the desk.',
    no_such_user: 'That staff member cannot take chats (unknown or disabled account).',
    rate_limited: 'Too fast: wait a second and try again.',
    missing_field: 'That could not be sent: something was missing.',
    too_long: 'That message is too long (4000 characters at most).',
    empty: 'Type something first.',
    internal: 'The server could not save that. Please try again.',
    bad_json: 'The server did not understand that request.',
    unknown_type: 'The server did not understand that request.',
  };

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

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const ICONS = {
    alert: 'M12 3l10 18H2zM12 10v5M12 18v.5',
    person: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0',
    question: 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM9.1 9a3 3 0 0 1 5.8 1c0 2-3 3-3 3M12 17h.01',
    mail: 'M3 5h18v14H3zM3 6l9 7 9-7',
    lock: 'M5 11h14v10H5zM8 11V7a4 4 0 0 1 8 0v4',
  };
  function icon(name, cls) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'icon' + (cls ? ' ' + cls : ''));
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', ICONS[name]);
    svg.append(p);
    return svg;
  }

  function store(key, value) {
    try {
      if (value === undefined) return sessionStorage.getItem(key);
      if (value === null) sessionStorage.removeItem(key); else sessionStorage.setItem(key, value);
    } catch (_) { /* storage blocked: preferences just don't persist */ }
    return null;
  }

  // ---------------------------------------------------------------- formatting
  function parseTime(iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : t;
  }
  function since(iso) {
    const t = parseTime(iso);
    if (t === null) return '';
    const s = Math.max(0, Math.floor((Date.now() - t) / 1000));
    if (s < 60) return 'under 1 min';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min';
    const hrs = Math.floor(m / 60);
    if (hrs < 48) return hrs + ' h ' + (m % 60) + ' min';
    return Math.floor(hrs / 24) + ' days';
  }
  function clock(iso) {
    const t = parseTime(iso);
    if (t === null) return '';
    const d = new Date(t);
    const sameDay = new Date().toDateString() === d.toDateString();
    return sameDay
      ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
      : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
  }
  function percent(x) {
    const n = Number(x);
    return Number.isFinite(n) ? Math.round(n * 100) + '%' : '';
  }
  function personName(p) {
    if (!p) return '';
    return String(p.display || p.name || '');
  }
  function isMe(p) { return !!(p && me && p.name === me.name); }
  function reasonKey(item) {
    if (item.status === 'ticket') return 'ticket';
    if (item.emergency || item.reason === 'emergency') return 'emergency';
    return REASONS[item.reason] ? item.reason : 'low_confidence';
  }
  function reasonIcon(key) {
    return { emergency: 'alert', asked_for_person: 'person', low_confidence: 'question', ticket: 'mail' }[key];
  }
  function reasonBadge(item) {
    const key = reasonKey(item);
    return h('span', { class: 'reason reason--' + key }, icon(reasonIcon(key)), h('span', { text: REASONS[key] }));
  }
  // What the bot tried before handing over. docs/staff-protocol.md: {"entry","question","confidence"};
  // the server may also send {"confidence","reason","tried":[{"entry","question"}...]}: both are read.
  function botTried(item) {
    const b = item && item.bot;
    if (!b || typeof b !== 'object') return null;
    const tries = [];
    if (typeof b.question === 'string' && b.question) tries.push({ entry: b.entry, question: b.question });
    if (Array.isArray(b.tried)) {
      for (const t of b.tried) if (t && typeof t.question === 'string' && t.question) tries.push({ entry: t.entry, question: t.question });
    }
    // the confidence of "asked for a person" is about recognising the request, not an answer
    const reason = b.reason || item.reason;
    const confidence = typeof b.confidence === 'number' && reason !== 'asked_for_person' ? b.confidence : null;
    if (!tries.length && confidence === null) return null;
    return { tries: tries.slice(0, 3), confidence };
  }
  function botTriedText(bt) {
    const qs = bt.tries.map((t) => '“' + t.question + '”').join(', ');
    const conf = bt.confidence !== null ? percent(bt.confidence) + ' sure' : '';
    if (!qs) return 'no good match' + (conf ? ' (' + conf + ')' : '');
    return qs + (conf ? ' (' + conf + ')' : '');
  }

  function queuedAt(item) {
    return typeof item.queued_at_ms === 'number' ? new Date(item.queued_at_ms).toISOString() : item.queued_at;
  }
  function waitLabel(item) {
    const t = since(queuedAt(item));
    if (!t) return '';
    if (item.status === 'ticket') return 'Left ' + t + ' ago';
    if (item.status === 'waiting') return 'Waiting ' + t;
    return 'In queue ' + t;
  }
  function ownerLabel(item) {
    if (item.status === 'ticket') return '';
    if (!item.owner) return 'Not taken yet';
    return isMe(item.owner) ? 'Taken by you' : 'Taken by ' + personName(item.owner);
  }

  // ---------------------------------------------------------------- state
  let me = null;                 // {name, display, role}
  let csrf = '';
  const queue = new Map();       // conversation -> ITEM
  const fresh = new Set();       // conversations that came in while this page was open, not opened yet
  const unread = new Set();      // conversations with patient messages not seen yet
  let staff = [];                // presence list
  let lastEventId = 0;           // for hello "since"
  let welcomed = false;          // got at least one welcome on this page
  let current = null;            // the open chat: {conv, item, closed, rows: Map id->row}
  const pending = new Map();     // client_id -> {conv, kind, text, row}
  let cidCounter = 0;
  const cidPrefix = 's' + Math.random().toString(36).slice(2, 8);
  let lastAction = null;         // the last action frame sent: errors are matched to it
  let claimWanted = null;        // conversation we just asked to take over

  // ---------------------------------------------------------------- elements
  const connEl = $('conn');
  const presenceBox = $('presence');
  const soundBox = $('sound');
  const meName = $('me-name');
  const logoutBtn = $('logout');
  const waitingBadge = $('waiting-badge');
  const queueList = $('queue-list');
  const queueEmpty = $('queue-empty');
  const ticketList = $('ticket-list');
  const ticketsEmpty = $('tickets-empty');
  const ticketsCount = $('tickets-count');
  const teamList = $('team-list');
  const notice = $('desk-notice');
  const convoEmpty = $('convo-empty');
  const convo = $('convo');
  const convoTitle = $('convo-title');
  const convoReason = $('convo-reason');
  const convoMeta = $('convo-meta');
  const convoBot = $('convo-bot');
  const convoTicket = $('convo-ticket');
  const claimBtn = $('act-claim');
  const transferBox = $('transfer-box');
  const transferSel = $('transfer-to');
  const transferBtn = $('act-transfer');
  const handbackBtn = $('act-handback');
  const resolveBtn = $('act-resolve');
  const transcript = $('transcript');
  const patientTyping = $('patient-typing');
  const composer = $('composer');
  const modeReply = $('mode-reply');
  const modeNote = $('mode-note');
  const modeHint = $('mode-hint');
  const composerLabel = $('composer-label');
  const textBox = $('composer-text');
  const sendBtn = $('composer-send');
  const announcer = $('announcer');

  // ---------------------------------------------------------------- messages to the person
  let noticeTimer = null;
  function showNotice(text, kind) {
    clearTimeout(noticeTimer);
    notice.replaceChildren();
    notice.className = 'desk-notice';
    if (!text) return;
    notice.classList.add('is-shown', 'desk-notice--' + (kind || 'info'));
    notice.append(h('span', { class: 'desk-notice-text', text }));
    noticeTimer = setTimeout(() => showNotice(''), 20000);
  }
  let announceTimer = null;
  function announce(text) {
    // a fresh text node each time, so the same words twice are read twice
    clearTimeout(announceTimer);
    announcer.textContent = '';
    announceTimer = setTimeout(() => { announcer.textContent = text; }, 60);
  }

  function goLogin(expired) {
    stopped = true;
    if (ws) { try { ws.close(1000); } catch (_) { /* closing anyway */ } }
    // the open chat (#c_...) comes back after signing in again
    location.replace(LOGIN_URL + (expired ? '&expired=1' : '') + (/^#[\w-]{1,200}$/.test(location.hash) ? location.hash : ''));
  }

  // ---------------------------------------------------------------- sound (opt-in; Web Audio, no media file)
  let audio = null;
  function ensureAudio() {
    if (!soundBox.checked) return;
    try {
      if (!audio) {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (Ctx) audio = new Ctx();
      }
      if (audio && audio.state === 'suspended') audio.resume().catch(() => {});
    } catch (_) { audio = null; }
  }
  function beep(urgent) {
    if (!soundBox.checked || !audio || audio.state !== 'running') return;
    try {
      const t0 = audio.currentTime;
      const notes = urgent ? [880, 660, 880] : [660, 880];
      notes.forEach((f, i) => {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = f;
        gain.gain.setValueAtTime(0.0001, t0 + i * 0.16);
        gain.gain.exponentialRampToValueAtTime(0.15, t0 + i * 0.16 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.16 + 0.14);
        osc.connect(gain).connect(audio.destination);
        osc.start(t0 + i * 0.16);
        osc.stop(t0 + i * 0.16 + 0.15);
      });
    } catch (_) { /* no sound is fine */ }
  }
  soundBox.checked = store('frontdesk:staff:sound') === '1';
  soundBox.addEventListener('change', () => {
    store('frontdesk:staff:sound', soundBox.checked ? '1' : null);
    ensureAudio(); // inside the click: allowed to start
  });
  // a remembered "on" can only start on a user gesture
  const unlockAudio = () => { if (soundBox.checked) ensureAudio(); };
  document.addEventListener('pointerdown', unlockAudio, { capture: true });
  document.addEventListener('keydown', unlockAudio, { capture: true });

  // ---------------------------------------------------------------- connection
  let ws = null;
  let session = false;
  let stopped = false;
  let attempts = 0;
  let retryTimer = null;
  let pingTimer = null;
  let lastFrameAt = 0;

  function setConn(state, text) {
    connEl.dataset.state = state;
    connEl.textContent = text;
  }

  function connect() {
    if (ws || stopped) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    setConn(attempts ? 'reconnecting' : 'connecting', attempts ? 'Reconnecting…' : 'Connecting…');
    let sock;
    try { sock = new WebSocket(WS_URL, SUBPROTOCOL); } catch (_) { scheduleReconnect(); return; }
    ws = sock;
    sock.addEventListener('open', () => {
      if (sock !== ws) return;
      lastFrameAt = Date.now();
      const hello = { type: 'hello' };
      if (lastEventId > 0) hello.since = lastEventId;
      sock.send(JSON.stringify(hello));
    });
    sock.addEventListener('message', (e) => {
      if (sock !== ws) return;
      lastFrameAt = Date.now();
      let msg;
      try { msg = JSON.parse(e.data); } catch (_) { return; }
      if (msg && typeof msg === 'object') handleFrame(msg);
    });
    sock.addEventListener('close', (e) => { if (sock === ws) dropped(e.code); });
  }

  function dropped(code) {
    const sock = ws;
    ws = null;
    session = false;
    clearInterval(pingTimer);
    presenceBox.disabled = true;
    updateActions();
    if (sock) { try { sock.close(); } catch (_) { /* already closed */ } }
    for (const p of pending.values()) if (p.row && p.row.dataset.state === 'pending') setRowState(p.row, 'failed', p);
    if (stopped) return;
    if (code === 4001) { goLogin(true); return; }
    setConn('reconnecting', 'Connection lost. Reconnecting…');
    // a refused handshake looks like any other drop: ask whether the session is still good
    fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' })
      .then((res) => { if (res.status === 401) goLogin(true); else scheduleReconnect(); })
      .catch(() => scheduleReconnect());
  }

  function scheduleReconnect() {
    if (retryTimer || stopped || ws) return;
    const delay = Math.min(30000, 1000 * 2 ** Math.min(attempts, 5)) * (0.75 + Math.random() * 0.5);
    attempts++;
    setConn('reconnecting', 'Connection lost. Reconnecting…');
    retryTimer = setTimeout(() => { retryTimer = null; connect(); }, delay);
  }
  window.addEventListener('online', () => {
    if (ws || stopped) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    connect();
  });

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN || !session) return false;
    try { ws.send(JSON.stringify(frame)); } catch (_) { return false; }
    if (frame.type !== 'ping' && frame.type !== 'typing' && frame.type !== 'presence' && frame.type !== 'open') {
      lastAction = { ...frame, at: Date.now() };
    }
    return true;
  }

  function startPing() {
    clearInterval(pingTimer);
    pingTimer = setInterval(() => {
      if (!ws) return;
      if (Date.now() - lastFrameAt > SILENT_MS) { dropped(); return; }
      send({ type: 'ping' });
    }, PING_MS);
  }

  // ---------------------------------------------------------------- frames
  function handleFrame(msg) {
    switch (msg.type) {
      case 'welcome': return onWelcome(msg);
      case 'queue': return onQueue(msg);
      case 'event': return onEvent(msg.event, true);
      case 'transcript': return onTranscript(msg);
      case 'presence': return onPresence(msg.staff);
      case 'ack': return onAck(msg);
      case 'patient_typing': return onPatientTyping(msg);
      case 'error': return onError(msg);
      case 'pong': return undefined;
      default: return undefined;
    }
  }

  function onWelcome(msg) {
    session = true;
    attempts = 0;
    setConn('online', 'Connected');
    startPing();
    if (msg.user && typeof msg.user === 'object') setMe(msg.user);
    const firstWelcome = !welcomed;
    welcomed = true;

    // the queue is replaced by the server's; what is new since we last looked gets the "new" flag
    const before = new Set(queue.keys());
    queue.clear();
    for (const item of Array.isArray(msg.queue) ? msg.queue : []) {
      if (!item || typeof item.conversation !== 'string') continue;
      queue.set(item.conversation, item);
      if (!firstWelcome && !before.has(item.conversation)) fresh.add(item.conversation);
    }
    for (const c of [...fresh]) if (!queue.has(c)) fresh.delete(c);
    for (const c of [...unread]) if (!queue.has(c)) unread.delete(c);
    if (typeof msg.last_event === 'number' && msg.last_event > lastEventId) lastEventId = msg.last_event;
    onPresence(msg.staff);
    const missed = Array.isArray(msg.missed) ? msg.missed.slice().sort((a, b) => a.id - b.id) : [];
    for (const ev of missed) onEvent(ev, false);
    renderQueue();

    // an away status chosen before the drop survives it
    presenceBox.disabled = false;
    const want = store('frontdesk:staff:presence');
    if (want === 'away') { $('presence-away').checked = true; send({ type: 'presence', status: 'away' }); }
    else $('presence-online').checked = true;

    // keep the open chat, or open the one in the address (#c_...) after a reload
    if (current) {
      if (queue.has(current.conv)) current.item = queue.get(current.conv);
      renderHeader();
      send({ type: 'open', conversation: current.conv });
    } else if (firstWelcome) {
      const hash = decodeURIComponent(location.hash.slice(1));
      if (hash) openChat(hash, { focus: false });
    }
    updateActions();
  }

  function setMe(user) {
    me = { name: String(user.name || ''), display: String(user.display || user.name || ''), role: String(user.role || 'staff') };
    meName.textContent = me.display + (me.role === 'admin' ? ' (admin)' : '');
  }

  function onQueue(msg) {
    if (typeof msg.removed === 'string') {
      const conv = msg.removed;
      queue.delete(conv);
      fresh.delete(conv);
      unread.delete(conv);
      if (current && current.conv === conv) {
        current.closed = true;
        renderHeader();
      }
      renderQueue();
      return;
    }
    const item = msg.item;
    if (!item || typeof item.conversation !== 'string') return;
    const conv = item.conversation;
    const old = queue.get(conv);
    queue.set(conv, item);
    if (!old) {
      const isCurrent = current && current.conv === conv;
      if (!isCurrent) fresh.add(conv);
      if (item.status === 'ticket') announce('New message left by a patient (ticket).');
      else if (reasonKey(item) === 'emergency') announce('New emergency chat waiting.');
      else announce('New chat waiting: ' + REASONS[reasonKey(item)] + '.');
      beep(reasonKey(item) === 'emergency');
    } else if (item.status === 'waiting' && old.status === 'ticket') {
      fresh.add(conv);
    }
    if (current && current.conv === conv) {
      const wasMine = current.item && isMe(current.item.owner);
      current.item = item;
      current.closed = false;
      renderHeader();
      const nowMine = isMe(item.owner);
      if (nowMine && !wasMine) {
        // never turn a half-written internal note into a reply to the patient
        if (!textBox.value.trim()) setMode('reply'); else updateActions();
        if (claimWanted === conv) {
          claimWanted = null;
          showNotice('You took over this chat. The patient sees your replies.', 'ok');
          textBox.focus();
        }
      } else if (!nowMine && wasMine) {
        stopTyping();
        setMode('note');
        if (item.owner) showNotice('This chat is now with ' + personName(item.owner) + '.', 'info');
      }
    }
    renderQueue();
  }

  function onEvent(ev, live) {
    if (!ev || typeof ev !== 'object') return;
    if (typeof ev.id === 'number' && ev.id > lastEventId) lastEventId = ev.id;
    const conv = ev.conversation;
    if (current && conv === current.conv) {
      const added = addEvent(ev);
      if (added && ev.role === 'patient') hidePatientTyping();
      if (added && ev.role === 'system' && (ev.type === 'handback' || ev.type === 'resolved')) {
        current.closedBy = ev.type;
      }
      if (added && ev.role === 'patient' && document.hidden && live) beep(false);
    } else if (ev.role === 'patient' && queue.has(conv)) {
      if (!unread.has(conv)) {
        unread.add(conv);
        const item = queue.get(conv);
        if (item && isMe(item.owner) && live) {
          announce('New message from the patient in a chat you took over.');
          beep(false);
        }
      }
      renderQueue();
    }
  }

  function onTranscript(msg) {
    const item = msg.item;
    const conv = item && item.conversation;
    if (!current || conv !== current.conv) return;
    current.item = queue.get(conv) || item;
    current.closed = !queue.has(conv) && !['waiting', 'owned', 'ticket'].includes(item.status);
    current.loaded = true;
    transcript.setAttribute('aria-busy', 'true');
    const loading = transcript.querySelector('.ev-loading');
    if (loading) loading.remove();
    const events = Array.isArray(msg.events) ? msg.events.slice().sort((a, b) => a.id - b.id) : [];
    for (const ev of events) addEvent(ev);
    for (const ev of events) if (ev.role === 'system' && (ev.type === 'handback' || ev.type === 'resolved')) current.closedBy = ev.type;
    if (!events.length && !transcript.querySelector('.ev')) {
      transcript.append(h('p', { class: 'ev-empty', text: 'No messages yet.' }));
    }
    transcript.setAttribute('aria-busy', 'false');
    scrollTranscript(true);
    renderHeader();
    if (isMe(current.item.owner) && !textBox.value.trim()) setMode('reply');
  }

  function onPresence(list) {
    if (!Array.isArray(list)) return;
    staff = list.filter((p) => p && typeof p.name === 'string');
    renderTeam();
    renderTransfer();
  }

  function onAck(msg) {
    const cid = msg.client_id !== undefined && msg.client_id !== null ? String(msg.client_id) : null;
    const p = cid ? pending.get(cid) : null;
    if (!p) return;
    pending.delete(cid);
    if (!current || current.conv !== p.conv || !p.row.isConnected) return;
    const id = msg.id;
    const shown = typeof id === 'number' ? current.rows.get(id) : null;
    if (shown && shown !== p.row) { p.row.remove(); return; } // the event got here first
    if (typeof id === 'number') { p.row.dataset.id = String(id); current.rows.set(id, p.row); }
    setRowState(p.row, 'sent');
  }

  function onPatientTyping(msg) {
    if (!current || msg.conversation !== current.conv) return;
    if (msg.typing) {
      patientTyping.hidden = false;
      clearTimeout(patientTypingTimer);
      patientTypingTimer = setTimeout(hidePatientTyping, PATIENT_TYPING_MS);
      scrollTranscript(false);
    } else {
      hidePatientTyping();
    }
  }
  let patientTypingTimer = null;
  function hidePatientTyping() {
    clearTimeout(patientTypingTimer);
    patientTyping.hidden = true;
  }

  function onError(msg) {
    const code = typeof msg.code === 'string' ? msg.code : 'internal';
    if (code === 'session_expired') { goLogin(true); return; }
    const act = lastAction && Date.now() - lastAction.at < 15000 ? lastAction : null;
    lastAction = null;
    let text = ERRORS[code] || (typeof msg.message === 'string' && msg.message) || 'Something went wrong.';
    if (code === 'already_claimed') {
      const item = act && queue.get(act.conversation);
      if (item && item.owner && !isMe(item.owner)) text = 'Taken by ' + personName(item.owner) + '.';
      else if (typeof msg.message === 'string' && msg.message) text = msg.message;
      if (act && claimWanted === act.conversation) claimWanted = null;
    }
    if (act && (act.type === 'reply' || act.type === 'note') && act.client_id) {
      const p = pending.get(String(act.client_id));
      if (p && p.row) setRowState(p.row, 'failed', p);
    }
    showNotice(text, 'error');
  }

  // ---------------------------------------------------------------- the queue
  const itemEls = new Map(); // conversation -> {li, btn}

  function sortedItems(filter) {
    return [...queue.values()].filter(filter).sort((a, b) => {
      const ea = reasonKey(a) === 'emergency' ? 0 : 1;
      const eb = reasonKey(b) === 'emergency' ? 0 : 1;
      if (ea !== eb) return ea - eb;
      return (parseTime(queuedAt(a)) || 0) - (parseTime(queuedAt(b)) || 0);
    });
  }

  function fillItem(btn, item) {
    const key = reasonKey(item);
    const conv = item.conversation;
    const flags = h('span', { class: 'q-flags' });
    if (fresh.has(conv)) flags.append(h('span', { class: 'tag tag--new', text: 'New' }));
    if (unread.has(conv)) flags.append(h('span', { class: 'tag tag--unread', text: 'New message' }));
    const owner = ownerLabel(item);
    if (owner) flags.append(h('span', { class: 'q-owner' + (item.owner ? '' : ' q-owner--none') }, item.owner ? icon('lock') : null, h('span', { text: owner })));
    if (item.lang && item.lang !== 'en') flags.append(h('span', { class: 'tag tag--lang', text: langName(item.lang) }));

    const parts = [
      h('span', { class: 'q-top' }, reasonBadge(item), h('span', { class: 'q-wait', 'data-since': item.queued_at || '', text: waitLabel(item) })),
      flags,
    ];
    if (key === 'ticket' && item.ticket) {
      const t = item.ticket;
      parts.push(h('span', { class: 'q-ticket' },
        h('span', { class: 'q-ticket-who', text: [t.name, t.contact].filter(Boolean).join(' · ') }),
        h('span', { class: 'q-line q-clamp', text: t.text || '' })));
    } else {
      const qs = Array.isArray(item.questions) ? item.questions.filter((q) => typeof q === 'string' && q.trim()) : [];
      if (qs.length) {
        const list = h('span', { class: 'q-questions' });
        for (const q of qs.slice(-3)) list.append(h('span', { class: 'q-line q-clamp', text: '“' + q + '”' }));
        parts.push(list);
      }
      const bt = botTried(item);
      if (bt) parts.push(h('span', { class: 'q-bot', text: 'Bot tried: ' + botTriedText(bt) }));
    }
    btn.replaceChildren(...parts);
  }

  function langName(code) {
    return { es: 'Spanish', en: 'English' }[code] || String(code).toUpperCase();
  }

  function renderList(listEl, items) {
    const active = document.activeElement;
    const want = items.map((item) => {
      let rec = itemEls.get(item.conversation);
      if (!rec) {
        const btn = h('button', { type: 'button', class: 'q-open', 'data-conversation': item.conversation });
        btn.addEventListener('click', () => openChat(item.conversation, { focus: true }));
        const li = h('li', { class: 'q-item' }, btn);
        rec = { li, btn };
        itemEls.set(item.conversation, rec);
      }
      fillItem(rec.btn, item);
      const key = reasonKey(item);
      rec.li.className = 'q-item q-item--' + key +
        (current && current.conv === item.conversation ? ' is-selected' : '') +
        (fresh.has(item.conversation) ? ' is-new' : '') +
        (item.owner && isMe(item.owner) ? ' is-mine' : '');
      if (current && current.conv === item.conversation) rec.btn.setAttribute('aria-current', 'true');
      else rec.btn.removeAttribute('aria-current');
      rec.li.dataset.conversation = item.conversation;
      rec.li.dataset.status = item.status || '';
      return rec.li;
    });
    // move nodes only where the order changed (moving a focused node would drop its focus)
    const same = want.length === listEl.children.length && want.every((li, i) => listEl.children[i] === li);
    if (!same) {
      for (const child of [...listEl.children]) if (!want.includes(child)) child.remove();
      want.forEach((li, i) => { if (listEl.children[i] !== li) listEl.insertBefore(li, listEl.children[i] || null); });
      if (active && active !== document.activeElement && active.isConnected) active.focus();
    }
  }

  function renderQueue() {
    for (const conv of [...itemEls.keys()]) {
      if (!queue.has(conv)) { itemEls.get(conv).li.remove(); itemEls.delete(conv); }
    }
    const chats = sortedItems((i) => i.status !== 'ticket');
    const tickets = sortedItems((i) => i.status === 'ticket');
    renderList(queueList, chats);
    renderList(ticketList, tickets);
    queueEmpty.hidden = chats.length > 0;
    ticketsEmpty.hidden = tickets.length > 0;
    ticketsCount.textContent = tickets.length ? '(' + tickets.length + ')' : '';

    const waiting = chats.filter((i) => i.status === 'waiting' && !i.owner).length;
    const emergencies = chats.filter((i) => i.status === 'waiting' && !i.owner && reasonKey(i) === 'emergency').length;
    waitingBadge.hidden = waiting === 0;
    waitingBadge.textContent = waiting + ' waiting' + (emergencies ? ' · ' + emergencies + ' emergency' : '');
    waitingBadge.classList.toggle('waiting-badge--emergency', emergencies > 0);
    document.title = waiting ? '(' + waiting + ') ' + BASE_TITLE : BASE_TITLE;
  }

  function tick() {
    for (const el of document.querySelectorAll('.q-wait')) {
      const li = el.closest('.q-item');
      const item = li && queue.get(li.dataset.conversation);
      if (item) el.textContent = waitLabel(item);
    }
    if (current && current.item) {
      const w = convoMeta.querySelector('.meta-wait');
      if (w) w.textContent = waitLabel(current.item);
    }
  }
  setInterval(tick, TICK_MS);

  function renderTeam() {
    teamList.replaceChildren();
    const list = staff.slice().sort((a, b) => personName(a).localeCompare(personName(b)));
    if (!list.length) { teamList.append(h('li', { class: 'empty', text: 'No one is signed in.' })); return; }
    for (const p of list) {
      const status = p.status === 'away' ? 'away' : 'online';
      teamList.append(h('li', { class: 'team-member' },
        h('span', { class: 'dot dot--' + status, 'aria-hidden': 'true' }),
        h('span', { class: 'team-name', text: personName(p) + (isMe(p) ? ' (you)' : '') }),
        h('span', { class: 'team-status', text: status === 'away' ? 'Away' : 'Online' })));
    }
  }

  function renderTransfer() {
    const keep = transferSel.value;
    transferSel.replaceChildren();
    const others = staff.filter((p) => !isMe(p));
    for (const p of others) {
      transferSel.append(h('option', { value: p.name, text: personName(p) + (p.status === 'away' ? ' (away)' : ' (online)') }));
    }
    if (!others.length) transferSel.append(h('option', { value: '', text: 'No one else is signed in' }));
    if (others.some((p) => p.name === keep)) transferSel.value = keep;
    updateActions();
  }

  // ---------------------------------------------------------------- the open chat
  const drafts = new Map(); // conversation -> {text, mode}: what was being written when another chat was opened
  function openChat(conv, { focus } = {}) {
    if (!conv) return;
    if (current && current.conv !== conv) {
      stopTyping();
      if (textBox.value.trim()) drafts.set(current.conv, { text: textBox.value, mode: mode() });
      else drafts.delete(current.conv);
    }
    const same = current && current.conv === conv;
    if (!same) {
      current = { conv, item: queue.get(conv) || null, closed: false, rows: new Map(), loaded: false };
      transcript.replaceChildren(h('p', { class: 'ev-loading', text: 'Loading the conversation…' }));
      hidePatientTyping();
      const draft = drafts.get(conv);
      drafts.delete(conv);
      textBox.value = draft ? draft.text : '';
      const canReply = current.item && isMe(current.item.owner);
      setMode(draft ? (draft.mode === 'reply' && canReply ? 'reply' : 'note') : (canReply ? 'reply' : 'note'));
      try { history.replaceState(null, '', '#' + encodeURIComponent(conv)); } catch (_) { /* fine */ }
    }
    fresh.delete(conv);
    unread.delete(conv);
    convoEmpty.hidden = true;
    convo.hidden = false;
    renderHeader();
    renderQueue();
    send({ type: 'open', conversation: conv });
    if (focus) convoTitle.focus();
  }

  function renderHeader() {
    if (!current) return;
    const item = current.item;
    convoReason.replaceChildren();
    convoMeta.replaceChildren();
    convoBot.hidden = true;
    convoTicket.hidden = true;
    if (!item) {
      convoTitle.textContent = 'Patient chat';
      convoMeta.textContent = current.closed ? 'Not in the queue.' : 'Loading…';
      updateActions();
      return;
    }
    convoTitle.textContent = item.status === 'ticket' ? 'Message left by ' + (item.ticket && item.ticket.name ? item.ticket.name : 'a patient') : 'Patient chat';
    convoReason.append(reasonBadge(item));
    const bits = [];
    if (current.closed) {
      const why = current.closedBy === 'handback' ? 'Handed back to the bot' : current.closedBy === 'resolved' ? 'Resolved' : 'Closed';
      bits.push(h('span', { class: 'meta-closed', text: why + ' – no longer in the queue' }));
    } else {
      bits.push(h('span', { class: 'meta-wait', text: waitLabel(item) }));
      const owner = ownerLabel(item);
      if (owner) bits.push(h('span', { class: 'meta-owner' + (item.owner ? '' : ' meta-owner--none'), text: owner }));
    }
    if (item.lang) bits.push(h('span', { text: 'Language: ' + langName(item.lang) }));
    bits.push(h('span', { class: 'meta-id', text: 'ID ' + item.conversation }));
    bits.forEach((b, i) => { if (i) convoMeta.append(h('span', { class: 'sep', 'aria-hidden': 'true', text: ' · ' })); convoMeta.append(b); });

    const bt = botTried(item);
    if (bt) {
      convoBot.hidden = false;
      convoBot.replaceChildren(h('strong', { text: 'Bot tried: ' }));
      bt.tries.forEach((t, i) => {
        if (i) convoBot.append(', ');
        convoBot.append('“' + t.question + '”');
        if (t.entry) convoBot.append(h('span', { class: 'muted', text: ' (entry ' + t.entry + ')' }));
      });
      if (bt.confidence !== null) {
        convoBot.append(h('span', { class: 'muted', text: (bt.tries.length ? ' – ' : '') + 'confidence ' + percent(bt.confidence) }));
      }
    }
    if (item.status === 'ticket' && item.ticket) {
      convoTicket.hidden = false;
      $('ticket-name').textContent = item.ticket.name || '';
      const c = $('ticket-contact');
      c.replaceChildren();
      const contact = String(item.ticket.contact || '');
      const href = /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(contact) ? 'mailto:' + contact
        : /^[+\d][\d\s().-]{5,}$/.test(contact) ? 'tel:' + contact.replace(/[^\d+]/g, '') : null;
      c.append(href ? h('a', { href, text: contact }) : contact);
      $('ticket-text').textContent = item.ticket.text || '';
    }
    updateActions();
  }

  function updateActions() {
    const active = document.activeElement;
    const item = current && current.item;
    const live = !!(current && item && !current.closed);
    const mine = live && isMe(item.owner);
    const admin = me && me.role === 'admin';
    const ticket = live && item.status === 'ticket';
    const chat = live && !ticket;

    claimBtn.hidden = !(chat && !item.owner);
    claimBtn.disabled = !session;
    transferBox.hidden = !(chat && item.owner && (mine || admin));
    const others = staff.filter((p) => !isMe(p));
    transferSel.disabled = !session || !others.length;
    transferBtn.disabled = !session || !others.length;
    handbackBtn.hidden = !(chat && mine);
    handbackBtn.disabled = !session;
    resolveBtn.hidden = !(live && (mine || !item.owner || admin));
    resolveBtn.disabled = !session;
    resolveBtn.textContent = ticket ? 'Mark as done' : 'Resolve';

    // replying needs the chat; notes can be written on anything open
    modeReply.disabled = !mine || ticket;
    if (modeReply.disabled && modeReply.checked) setMode('note');
    if (!current) modeHint.textContent = '';
    else if (ticket) modeHint.textContent = 'Reply to a message left by phone or e-mail.';
    else if (!live) modeHint.textContent = 'This chat has left the queue.';
    else if (!mine) modeHint.textContent = item && item.owner ? 'Only ' + personName(item.owner) + ' can reply.' : 'Take over to reply.';
    else modeHint.textContent = '';
    sendBtn.disabled = !session;
    // an action that just went away (taken over, handed back, resolved) must not strand the focus
    if (active && active !== document.body && active.closest && active.closest('.actions') &&
        (active.hidden || active.closest('[hidden]'))) {
      convoTitle.focus();
    }
  }

  // ---------------------------------------------------------------- transcript rows
  function eventRow(ev) {
    const role = ev.role || 'system';
    const type = ev.type || 'message';
    const time = ev.ts ? h('time', { class: 'ev-time', datetime: ev.ts, text: clock(ev.ts) }) : null;
    const text = typeof ev.text === 'string' ? ev.text : '';
    let row;
    if (role === 'system') {
      row = h('div', { class: 'ev ev--system' },
        h('p', { class: 'ev-text' }, text || systemText(ev), time ? ' ' : null, time));
    } else if (type === 'note') {
      const who = ev.name || ev.by || 'Staff';
      row = h('div', { class: 'ev ev--note' },
        h('p', { class: 'ev-label' }, icon('lock'), h('span', { text: 'Internal note – patient can\'t see this' })),
        h('p', { class: 'ev-who' }, h('span', { text: who + (ev.by && me && ev.by === me.name ? ' (you)' : '') }), time ? ' ' : null, time),
        h('p', { class: 'ev-text', text }));
    } else {
      let who = 'Patient';
      let detail = null;
      if (role === 'bot') {
        who = 'Bot';
        if (type === 'answer') detail = 'Answer' + (ev.entry ? ' from “' + ev.entry + '”' : '') + (ev.confidence !== undefined ? ', ' + percent(ev.confidence) + ' sure' : '');
        else if (type === 'handoff') detail = 'Passed to staff' + (ev.reason && REASONS[ev.reason] ? ': ' + REASONS[ev.reason] : '');
        else if (type === 'emergency') detail = 'Emergency instructions';
      } else if (role === 'staff') {
        const name = ev.name || ev.by || 'Staff';
        who = name + (ev.by && me && ev.by === me.name ? ' (you)' : ' (staff)');
      } else if (role === 'patient' && type !== 'message') {
        detail = type === 'ticket' || type === 'leave_message' ? 'Left a message' : type;
      }
      row = h('div', { class: 'ev ev--' + role + (type === 'emergency' ? ' ev--emergency' : '') },
        h('p', { class: 'ev-who' }, h('span', { class: 'ev-name', text: who }),
          detail ? h('span', { class: 'ev-detail', text: ' · ' + detail }) : null, time ? ' ' : null, time),
        h('p', { class: 'ev-text', text }),
        h('p', { class: 'ev-state' }));
      if (role === 'patient' && (ev.name || ev.contact)) {
        row.insertBefore(h('p', { class: 'ev-detail', text: [ev.name, ev.contact].filter(Boolean).join(' · ') }), row.lastChild);
      }
    }
    row.dataset.role = role;
    row.dataset.type = type;
    if (typeof ev.id === 'number') row.dataset.id = String(ev.id);
    return row;
  }

  function systemText(ev) {
    const name = ev.name || ev.by || 'Someone';
    return name + ' ' + (SYSTEM_WORDS[ev.type] || ev.type || '') + '.';
  }

  function setRowState(row, state, p) {
    row.dataset.state = state;
    const slot = row.querySelector('.ev-state');
    if (!slot) return;
    slot.replaceChildren();
    if (state === 'pending') slot.append('Sending…');
    else if (state === 'failed') {
      slot.append(h('span', { class: 'ev-failed', text: 'Not sent' }));
      if (p) {
        slot.append(' ', h('button', {
          type: 'button', class: 'link-btn', text: 'Try again',
          onclick: () => { row.remove(); pending.delete(p.cid); submitText(p.kind, p.text); },
        }));
      }
    }
    row.setAttribute('aria-busy', state === 'pending' ? 'true' : 'false');
  }

  // Adds an event to the open transcript in id order; never twice. Returns true if added.
  function addEvent(ev) {
    if (!current || typeof ev.id !== 'number') return false;
    if (current.rows.has(ev.id)) return false;
    const empty = transcript.querySelector('.ev-empty');
    if (empty) empty.remove();
    // our own reply or note, shown as pending before the server had it: adopt that row
    if (ev.role === 'staff' && me && ev.by === me.name) {
      const kind = ev.type === 'note' ? 'note' : 'reply';
      let match = null;
      for (const p of pending.values()) {
        if (p.conv !== current.conv || p.kind !== kind || !p.row.isConnected) continue;
        if ((ev.client_id !== undefined && String(ev.client_id) === p.cid) || (ev.client_id === undefined && p.text === ev.text)) { match = p; break; }
      }
      if (match) {
        pending.delete(match.cid);
        const row = eventRow(ev);
        match.row.replaceWith(row);
        current.rows.set(ev.id, row);
        return true;
      }
    }
    const nearBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
    const row = eventRow(ev);
    current.rows.set(ev.id, row);
    let before = null;
    for (const child of transcript.children) {
      const cid = Number(child.dataset.id);
      if ((child.dataset.id && cid > ev.id) || child.dataset.state === 'pending' || child.dataset.state === 'failed') { before = child; break; }
    }
    transcript.insertBefore(row, before);
    if (nearBottom) scrollTranscript(true);
    return true;
  }

  function scrollTranscript(force) {
    if (force || transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 120) {
      transcript.scrollTop = transcript.scrollHeight;
    }
  }

  // ---------------------------------------------------------------- actions
  claimBtn.addEventListener('click', () => {
    if (!current) return;
    claimWanted = current.conv;
    showNotice('');
    send({ type: 'claim', conversation: current.conv });
  });
  transferBtn.addEventListener('click', () => {
    if (!current || !transferSel.value) return;
    const to = staff.find((p) => p.name === transferSel.value);
    stopTyping();
    if (send({ type: 'transfer', conversation: current.conv, to: transferSel.value })) {
      showNotice('Transferring to ' + personName(to) + '…', 'info');
    }
  });
  handbackBtn.addEventListener('click', () => {
    if (!current) return;
    stopTyping();
    if (send({ type: 'handback', conversation: current.conv })) {
      current.closedBy = 'handback';
      showNotice('Handed back to the bot: it answers the patient\'s next question.', 'ok');
    }
  });
  resolveBtn.addEventListener('click', () => {
    if (!current) return;
    stopTyping();
    if (send({ type: 'resolve', conversation: current.conv })) {
      current.closedBy = 'resolved';
      showNotice('Resolved.', 'ok');
    }
  });

  // ---------------------------------------------------------------- composer
  function mode() { return modeReply.checked ? 'reply' : 'note'; }
  function setMode(m) {
    if (m === 'reply' && modeReply.disabled && !(current && current.item && isMe(current.item.owner))) m = 'note';
    if (m === 'reply') { modeReply.disabled = false; modeReply.checked = true; } else modeNote.checked = true;
    applyMode();
  }
  function applyMode() {
    const m = mode();
    composer.dataset.mode = m;
    composerLabel.textContent = m === 'reply' ? 'Reply to the patient' : 'Internal note – patient can\'t see this';
    sendBtn.textContent = m === 'reply' ? 'Send reply' : 'Add note';
    if (m !== 'reply') stopTyping();
  }
  modeReply.addEventListener('change', applyMode);
  modeNote.addEventListener('change', applyMode);

  function submitText(kind, raw) {
    if (!current) return false;
    const text = String(raw || '').trim();
    if (!text) { showNotice(ERRORS.empty, 'error'); return false; }
    if (text.length > MAX_TEXT) { showNotice(ERRORS.too_long, 'error'); return false; }
    if (kind === 'reply' && !(current.item && isMe(current.item.owner))) {
      showNotice('Take over this chat to reply to the patient.', 'error');
      return false;
    }
    const cid = cidPrefix + '-' + (++cidCounter);
    const ev = { role: 'staff', type: kind === 'note' ? 'note' : 'message', text, by: me && me.name, name: me && me.display };
    const row = eventRow(ev);
    const p = { cid, conv: current.conv, kind, text, row };
    const empty = transcript.querySelector('.ev-empty');
    if (empty) empty.remove();
    transcript.append(row);
    scrollTranscript(true);
    pending.set(cid, p);
    const ok = send({ type: kind === 'note' ? 'note' : 'reply', conversation: current.conv, text, client_id: cid });
    setRowState(row, ok ? 'pending' : 'failed', p);
    return true;
  }

  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const kind = mode();
    if (submitText(kind, textBox.value)) {
      textBox.value = '';
      if (kind === 'reply') stopTyping();
    }
    textBox.focus();
  });
  textBox.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });

  // typing: only the owner's replies are announced to the patient
  let typingConv = null;
  let typingSentAt = 0;
  let typingIdle = null;
  textBox.addEventListener('input', () => {
    if (!current || mode() !== 'reply' || !current.item || !isMe(current.item.owner)) return;
    if (!textBox.value.trim()) { stopTyping(); return; }
    const now = Date.now();
    if (typingConv !== current.conv || now - typingSentAt > TYPING_REFRESH_MS) {
      if (send({ type: 'typing', conversation: current.conv, typing: true })) {
        typingConv = current.conv;
        typingSentAt = now;
      }
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
  });
  textBox.addEventListener('blur', () => stopTyping());
  function stopTyping() {
    clearTimeout(typingIdle);
    if (typingConv) send({ type: 'typing', conversation: typingConv, typing: false });
    typingConv = null;
    typingSentAt = 0;
  }

  // ---------------------------------------------------------------- presence
  presenceBox.addEventListener('change', (e) => {
    const status = e.target && e.target.value === 'away' ? 'away' : 'online';
    store('frontdesk:staff:presence', status);
    send({ type: 'presence', status });
    announce(status === 'away' ? 'You are away.' : 'You are online.');
  });

  // ---------------------------------------------------------------- sign out
  logoutBtn.addEventListener('click', async () => {
    logoutBtn.disabled = true;
    stopTyping();
    stopped = true;
    if (ws) { try { ws.close(1000); } catch (_) { /* closing */ } }
    try {
      await fetch('/api/logout', {
        method: 'POST',
        credentials: 'same-origin',
        cache: 'no-store',
        referrerPolicy: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: '{}',
      });
    } catch (_) { /* signed out or not, the login page is where to go */ }
    location.replace('/login?signed_out=1');
  });

  // ---------------------------------------------------------------- start
  async function start(tries = 0) {
    let res;
    try {
      res = await fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' });
    } catch (_) {
      setConn('reconnecting', 'Cannot reach the server. Retrying…');
      setTimeout(() => start(tries + 1), Math.min(30000, 1000 * 2 ** Math.min(tries, 5)));
      return;
    }
    if (res.status === 401 || res.status === 403) { goLogin(false); return; }
    if (!res.ok) {
      setConn('reconnecting', 'The server had a problem. Retrying…');
      setTimeout(() => start(tries + 1), Math.min(30000, 1000 * 2 ** Math.min(tries, 5)));
      return;
    }
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (body && body.user) setMe(body.user);
    csrf = body && typeof body.csrf === 'string' ? body.csrf : '';
    connect();
  }
  // (no polling of /api/me: every request restarts the session's idle timer, and the automatic
  // logoff after 15 idle minutes must keep working)

  applyMode();
  renderQueue();
  renderTeam();
  start();
})();
