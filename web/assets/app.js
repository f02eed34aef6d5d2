// Heimdell's browser panel: plain JavaScript, no framework, nothing loaded from elsewhere.
//
// Rules this file keeps:
// - Text from the server (model replies, record fields, previews) is untrusted: it only ever
//   reaches the page as text nodes (textContent / createTextNode), never as HTML.
// - Every failure is shown in words: in the alert region, in the card it concerns, or in the
//   view that could not load (with a way to try again). No view is ever left blank.
// - Everything works with the keyboard: real links and buttons, labelled inputs, focus moved
//   deliberately when content is replaced.
'use strict';

(() => {
  // ---------------------------------------------------------------- DOM helpers

  /** Creates an element. `attrs`: class, text, dataset, on<event> handlers, attributes. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'value') el.value = v;
        else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'required') el[k] = Boolean(v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
    return el;
  }

  const $ = (sel, root = document) => root.querySelector(sel);

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ---------------------------------------------------------------- state

  const CSRF_KEY = 'heimdell.csrf';
  const state = {
    user: null, // {id, tenant_id, email, name, role, timezone}
    tenant: null, // {id, name}
    csrf: sessionStorage.getItem(CSRF_KEY),
    tools: null, // Promise<Map<name, tool>>
    returnTo: null,
  };

  const isManager = () => state.user && (state.user.role === 'manager' || state.user.role === 'admin');

  // ---------------------------------------------------------------- alerts and status

  const alertsEl = () => $('#alerts');

  /** Shows an error in words in the alert region (one at a time; the newest wins). */
  function showError(message, { key = 'error' } = {}) {
    const region = alertsEl();
    const old = region.querySelector(`[data-key="${key}"]`);
    if (old) old.remove();
    const box = h('div', { class: 'alert alert-error', dataset: { key } },
      h('p', { class: 'alert-text', text: message }),
      h('button', {
        type: 'button', class: 'btn btn-quiet btn-small', text: 'Dismiss',
        'aria-label': 'Dismiss this message',
        onclick: () => { box.remove(); },
      }));
    region.appendChild(box);
  }

  function clearError(key = 'error') {
    const el = alertsEl().querySelector(`[data-key="${key}"]`);
    if (el) el.remove();
  }

  function clearErrors() {
    for (const el of [...alertsEl().children]) {
      if (el.dataset.key !== 'network') el.remove();
    }
  }

  /** Announces something to screen readers without showing it. */
  function announce(text) {
    const s = $('#status');
    s.textContent = '';
    // A fresh text node after a tick, so repeating the same words is announced again.
    setTimeout(() => { s.textContent = text; }, 30);
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, message, details = []) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = Array.isArray(details) ? details : [];
    }
  }

  const NETWORK_MESSAGE = "Can't reach the server. Retrying…";

  async function errorFrom(res) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON */ }
    const e = body && body.error;
    if (e && typeof e.message === 'string') {
      return new ApiError(res.status, e.code || 'error', e.message, e.details);
    }
    if (res.status >= 500) {
      return new ApiError(res.status, 'server', `The server had a problem (status ${res.status}). Try again in a moment.`);
    }
    return new ApiError(res.status, 'http', `The request failed (status ${res.status}).`);
  }

  function headersFor(method, hasBody, accept = 'application/json') {
    const headers = { Accept: accept };
    if (hasBody) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    return headers;
  }

  async function rawFetch(path, init) {
    try {
      const res = await fetch(`/api/v1${path}`, { credentials: 'same-origin', ...init });
      net.up();
      return res;
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      net.down();
      throw new ApiError(0, 'network', NETWORK_MESSAGE);
    }
  }

  /** Calls the API; resolves to the JSON body, rejects with an ApiError in words. */
  async function api(method, path, body, { signedOutOk = false } = {}) {
    const res = await rawFetch(path, {
      method,
      headers: headersFor(method, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.ok) {
      if (res.status === 204) return null;
      try { return await res.json(); } catch {
        throw new ApiError(res.status, 'bad_response', 'The server sent an answer the panel could not read.');
      }
    }
    const err = await errorFrom(res);
    if (!signedOutOk) handleAuthFailure(err);
    throw err;
  }

  /** Runs a tool through the actions pipeline. Reads return their result. */
  const runTool = (tool, args) => api('POST', '/actions', { tool, args, approve: false });

  function handleAuthFailure(err) {
    if (!state.user) return;
    if (err.status === 401) {
      signedOut('Your session has ended. Sign in again to continue.');
    } else if (err.status === 403 && err.code === 'csrf_failed') {
      signedOut('Sign in again to make changes from this tab.');
    }
  }

  // Connection watch: when a request cannot reach the server, say so and probe until it can.
  const net = {
    isDown: false,
    timer: null,
    delay: 2000,
    down() {
      if (this.isDown) return;
      this.isDown = true;
      this.delay = 2000;
      showError(NETWORK_MESSAGE, { key: 'network' });
      this.schedule();
    },
    up() {
      if (!this.isDown) return;
      this.isDown = false;
      clearTimeout(this.timer);
      clearError('network');
      announce('Connected to the server again.');
      for (const fn of [...reconnectHooks]) fn();
    },
    schedule() {
      clearTimeout(this.timer);
      this.timer = setTimeout(async () => {
        try {
          await fetch('/api/v1/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
          this.up();
        } catch {
          this.delay = Math.min(this.delay * 2, 15000);
          this.schedule();
        }
      }, this.delay);
    },
  };
  const reconnectHooks = new Set();

  // ---------------------------------------------------------------- formatting

  function tz() {
    const zone = state.user && state.user.timezone;
    if (!zone) return undefined;
    try { new Intl.DateTimeFormat('en', { timeZone: zone }); return zone; } catch { return undefined; }
  }

  function formatDateTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return new Intl.DateTimeFormat(undefined, {
      timeZone: tz(), weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    }).format(d);
  }

  function formatDate(isoDate) {
    if (!isoDate) return '';
    const d = new Date(`${isoDate}T12:00:00Z`);
    if (Number.isNaN(d.getTime())) return String(isoDate);
    return new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric' }).format(d);
  }

  function relative(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    const secs = Math.round((Date.now() - d.getTime()) / 1000);
    if (Number.isNaN(secs)) return '';
    if (secs < 45 && secs > -45) return 'just now';
    const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
    const abs = Math.abs(secs);
    if (abs < 3600) return rtf.format(-Math.round(secs / 60), 'minute');
    if (abs < 86400) return rtf.format(-Math.round(secs / 3600), 'hour');
    if (abs < 86400 * 7) return rtf.format(-Math.round(secs / 86400), 'day');
    return formatDateTime(iso);
  }

  function timeEl(iso, text) {
    return h('time', { datetime: iso, title: formatDateTime(iso), text: text || formatDateTime(iso) });
  }

  function money(minor, currency) {
    if (minor === null || minor === undefined) return '';
    try {
      const f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
      const digits = f.resolvedOptions().maximumFractionDigits;
      return f.format(minor / 10 ** digits);
    } catch {
      return `${currency} ${(minor / 100).toFixed(2)}`;
    }
  }

  const humanize = (name) => {
    const s = String(name || '').replace(/_/g, ' ').trim();
    return s ? s[0].toUpperCase() + s.slice(1) : '';
  };

  const STATUS_WORDS = {
    pending: 'Pending approval',
    executed: 'Executed',
    rejected: 'Rejected',
    expired: 'Expired',
    failed: 'Failed',
  };

  const SOURCE_WORDS = {
    api: 'through the API',
    chat: 'in chat',
    web: 'in the panel',
    slack: 'in Slack',
    discord: 'in Discord',
    telegram: 'in Telegram',
  };

  function approverWords(role) {
    if (role === 'manager') return 'a manager';
    if (role === 'admin') return 'an admin';
    return 'the requester';
  }

  const ENTITY_PATH = { contact: 'contact', company: 'company', deal: 'deal', task: 'task' };

  // ---------------------------------------------------------------- rich text (untrusted)

  const MARKER = /\[\[(contact|company|deal|task|action):([0-9a-fA-F-]{36})\]\]/g;

  /** Inline text with citation markers and **bold** turned into DOM nodes (never HTML). */
  function inlineNodes(text, cited) {
    const out = [];
    let last = 0;
    MARKER.lastIndex = 0;
    for (let m = MARKER.exec(text); m; m = MARKER.exec(text)) {
      if (m.index > last) out.push(...boldNodes(text.slice(last, m.index)));
      const type = m[1].toLowerCase();
      const id = m[2].toLowerCase();
      cited.add(`${type}:${id}`);
      out.push(citationNode(type, id));
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(...boldNodes(text.slice(last)));
    return out;
  }

  function boldNodes(text) {
    const parts = text.split(/\*\*(.+?)\*\*/g);
    return parts.map((p, i) => (i % 2 === 1 ? h('strong', { text: p }) : document.createTextNode(p)));
  }

  function citationNode(type, id) {
    if (type === 'action') {
      return h('button', {
        type: 'button', class: 'cite cite-action', text: 'approval',
        'aria-label': 'Show the approval card',
        onclick: () => revealAction(id),
      });
    }
    return h('a', {
      class: 'cite', href: `#/${ENTITY_PATH[type]}/${id}`, text: type,
      'aria-label': `Open the ${type}`,
    });
  }

  /** Paragraphs, bullet and numbered lists, and line breaks from plain text. */
  function richText(text, cited = new Set()) {
    const frag = document.createDocumentFragment();
    const bullet = /^\s*[-*•]\s+/;
    const numbered = /^\s*(\d+)[.)]\s+/;
    const blocks = String(text || '').replace(/\r\n?/g, '\n').split(/\n{2,}/);
    for (const block of blocks) {
      let list = null;
      let listKind = null;
      let para = null;
      for (const line of block.split('\n')) {
        if (!line.trim()) continue;
        const kind = bullet.test(line) ? 'ul' : numbered.test(line) ? 'ol' : null;
        if (kind) {
          para = null;
          if (!list || listKind !== kind) {
            list = h(kind);
            listKind = kind;
            const n = kind === 'ol' ? Number(numbered.exec(line)[1]) : 1;
            if (n !== 1) list.setAttribute('start', String(n));
            frag.appendChild(list);
          }
          list.appendChild(h('li', null, inlineNodes(line.replace(kind === 'ul' ? bullet : numbered, ''), cited)));
        } else {
          list = null;
          if (para) para.appendChild(h('br'));
          else { para = h('p'); frag.appendChild(para); }
          append(para, inlineNodes(line, cited));
        }
      }
    }
    return frag;
  }

  async function revealAction(id) {
    let card = document.getElementById(`action-${id}`);
    if (!card) {
      try {
        const view = await api('GET', `/actions/${id}`);
        const holder = $('.chat-log') || $('#main');
        card = actionCard(view).el;
        holder.appendChild(card);
      } catch (e) {
        showError(e.message);
        return;
      }
    }
    card.scrollIntoView({ block: 'center', behavior: prefersReducedMotion() ? 'auto' : 'smooth' });
    card.focus({ preventScroll: true });
    card.classList.remove('flash');
    void card.offsetWidth; // restart the highlight animation
    card.classList.add('flash');
  }

  const prefersReducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

  // ---------------------------------------------------------------- tools (for edit forms)

  function tools() {
    if (!state.tools) {
      state.tools = api('GET', '/tools').then((r) => new Map((r.tools || []).map((t) => [t.name, t])))
        .catch((e) => { state.tools = null; throw e; });
    }
    return state.tools;
  }

  function resolveRef(schema, root) {
    let s = schema || {};
    for (let i = 0; i < 5 && s.$ref; i++) {
      const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref);
      s = (m && root[m[1]] && root[m[1]][m[2]]) || {};
    }
    return s;
  }

  /** Describes a property for an input: kind (text|number|integer|boolean|select|json). */
  function fieldSpec(name, prop, root, required) {
    let s = resolveRef(prop, root);
    const variants = (s.anyOf || s.oneOf || []).map((v) => resolveRef(v, root)).filter((v) => v.type !== 'null');
    if (variants.length === 1 && !s.type) s = { ...variants[0], description: s.description || variants[0].description };
    const consts = [];
    const alts = (s.anyOf || s.oneOf || []).map((v) => resolveRef(v, root)).filter((v) => v.type !== 'null');
    if (alts.length && alts.every((v) => v.const !== undefined || (v.enum && v.enum.length))) {
      for (const v of alts) consts.push(...(v.const !== undefined ? [v.const] : v.enum));
    }
    if (s.enum) consts.push(...s.enum.filter((v) => v !== null));
    const types = [].concat(s.type || []).filter((t) => t !== 'null');
    let kind = 'json';
    if (consts.length && consts.every((c) => typeof c === 'string')) kind = 'select';
    else if (types.length === 1 && ['string', 'number', 'integer', 'boolean'].includes(types[0])) kind = types[0] === 'string' ? 'text' : types[0];
    return {
      name, kind, required, options: consts, format: s.format,
      description: prop.description || s.description || '',
    };
  }

  // ---------------------------------------------------------------- approval cards

  const liveCards = new Map(); // id -> Set<card>
  const visibility = 'IntersectionObserver' in window
    ? new IntersectionObserver((entries) => {
      for (const e of entries) if (e.target.heimdellCard) e.target.heimdellCard.visible = e.isIntersecting;
    })
    : null;

  /** An approval card for an ActionView; keeps itself up to date while it is on the page. */
  function actionCard(view, { onDecided, verify = true, poll = true } = {}) {
    const titleId = nextId('action-title');
    const el = h('article', {
      class: 'card action-card', id: `action-${view.id}`, tabindex: '-1',
      'aria-labelledby': titleId, dataset: { actionId: view.id },
    });
    const card = { el, view, busy: false, mode: 'view' };

    function set(newView) {
      const was = card.view.status;
      card.view = newView;
      if (was !== newView.status) {
        if (card.mode !== 'view') card.mode = 'view';
        announce(`${humanize(newView.tool)}: ${STATUS_WORDS[newView.status] || newView.status}.`);
        if (was === 'pending' && onDecided) onDecided(newView);
      }
      render();
    }
    card.set = set;

    function render() {
      const v = card.view;
      const hadFocus = el.contains(document.activeElement) && document.activeElement !== el;
      el.dataset.status = v.status;
      const badge = h('span', { class: `badge badge-${v.status}`, text: STATUS_WORDS[v.status] || v.status });
      const meta = h('p', { class: 'card-meta' },
        `Requested by ${v.requester_id === (state.user && state.user.id) ? 'you' : v.requester_name}`,
        v.source ? ` ${SOURCE_WORDS[v.source] || `via ${v.source}`}` : '', ' · ', timeEl(v.created_at, relative(v.created_at)));
      el.replaceChildren(
        h('header', { class: 'card-head' },
          h('h3', { class: 'card-title', id: titleId, text: humanize(v.tool) }), badge),
        h('p', { class: 'card-preview', text: v.preview }),
        meta,
        body(v));
      if (hadFocus && card.mode === 'view') {
        const target = el.querySelector('.card-actions button') || el;
        target.focus();
      }
    }

    function body(v) {
      if (v.status === 'pending') {
        if (card.mode === 'edit') return editForm(v);
        if (card.mode === 'reject') return rejectForm();
        if (!v.can_approve) {
          const who = v.approver_role === 'self' ? `${v.requester_name} (the requester)` : approverWords(v.approver_role);
          return h('div', { class: 'card-foot' },
            h('p', { class: 'who-must', text: `Waiting for ${who} to approve.` }),
            h('p', { class: 'card-meta', text: `Expires ${formatDateTime(v.expires_at)}.` }));
        }
        const needs = v.approver_role === 'self' ? 'Needs your approval.' : `Needs approval by ${approverWords(v.approver_role)}.`;
        return h('div', { class: 'card-foot' },
          h('p', { class: 'card-meta', text: `${needs} Expires ${formatDateTime(v.expires_at)}.` }),
          h('div', { class: 'card-actions' },
            h('button', { type: 'button', class: 'btn btn-primary', 'data-act': 'approve', text: 'Approve', onclick: () => approve() }),
            h('button', { type: 'button', class: 'btn', 'data-act': 'edit', text: 'Edit', onclick: () => { card.mode = 'edit'; render(); focusFirstField(); } }),
            h('button', { type: 'button', class: 'btn btn-danger', 'data-act': 'reject', text: 'Reject', onclick: () => { card.mode = 'reject'; render(); focusFirstField(); } })),
          errorSlot());
      }
      return h('div', { class: 'card-foot' }, outcome(v));
    }

    function outcome(v) {
      const by = v.decided_by && state.user && v.decided_by === state.user.id ? 'you' : 'a teammate';
      const when = v.decided_at ? formatDateTime(v.decided_at) : '';
      if (v.status === 'executed') {
        return [
          h('p', { class: 'outcome outcome-ok', text: `Approved by ${by}${when ? ` on ${when}` : ''} and done.` }),
          resultLinks(v.result),
          resultDetails(v.result),
        ];
      }
      if (v.status === 'rejected') {
        return [
          h('p', { class: 'outcome outcome-bad', text: `Rejected by ${by}${when ? ` on ${when}` : ''}.` }),
          v.reason ? h('p', { class: 'reason' }, h('span', { class: 'label', text: 'Reason: ' }), v.reason) : null,
        ];
      }
      if (v.status === 'expired') {
        return h('p', { class: 'outcome', text: `Expired on ${formatDateTime(v.expires_at)} before anyone approved it.` });
      }
      if (v.status === 'failed') {
        const msg = v.result && v.result.error && (v.result.error.message || v.result.error);
        return [h('p', { class: 'outcome outcome-bad', text: `It could not be done${msg ? `: ${msg}` : '.'}` }), resultDetails(v.result)];
      }
      return h('p', { class: 'outcome', text: STATUS_WORDS[v.status] || v.status });
    }

    function errorSlot() {
      return h('p', { class: 'card-error', role: 'alert', hidden: true });
    }

    function showCardError(message) {
      let slot = el.querySelector('.card-error');
      if (!slot) { slot = errorSlot(); el.appendChild(slot); }
      slot.textContent = message;
      slot.hidden = false;
    }

    function focusFirstField() {
      const f = el.querySelector('form input, form textarea, form select');
      if (f) f.focus();
    }

    function setBusy(on, label) {
      card.busy = on;
      for (const b of el.querySelectorAll('button')) b.disabled = on;
      const badge = el.querySelector('.badge');
      if (badge) badge.textContent = on && label ? label : STATUS_WORDS[card.view.status] || card.view.status;
    }

    async function approve(args) {
      if (card.busy) return;
      const slot = el.querySelector('.card-error');
      if (slot) slot.hidden = true;
      setBusy(true, 'Approving…');
      try {
        const res = await api('POST', `/actions/${view.id}/approve`, args === undefined ? undefined : { args });
        card.busy = false;
        card.mode = 'view';
        set(res.action || { ...card.view, status: res.status, result: res.result });
        el.focus();
      } catch (e) {
        await afterFailure(e);
      }
    }

    async function reject(reason) {
      if (card.busy) return;
      setBusy(true, 'Rejecting…');
      try {
        const v = await api('POST', `/actions/${view.id}/reject`, reason ? { reason } : undefined);
        card.busy = false;
        card.mode = 'view';
        set(v);
        el.focus();
      } catch (e) {
        await afterFailure(e);
      }
    }

    async function afterFailure(e) {
      card.busy = false;
      if (e.status === 409 || e.status === 404) {
        // Someone decided first, or it expired: show what it is now.
        try { card.mode = 'view'; set(await api('GET', `/actions/${view.id}`)); } catch { render(); }
        showCardError(e.message);
        return;
      }
      // Keep the form as typed: mark what the server refused and say why.
      setBusy(false);
      if (card.mode === 'edit' && e.details.length) {
        markFieldErrors(e.details);
      }
      showCardError(e.message);
    }

    function markFieldErrors(details) {
      for (const d of details) {
        const name = String(d.field || '').split(/[./]/).filter(Boolean).pop();
        const input = name && el.querySelector(`[data-field="${CSS.escape(name)}"]`);
        if (!input) continue;
        input.setAttribute('aria-invalid', 'true');
        const details = input.closest('details');
        if (details) details.open = true;
        const msg = el.querySelector(`#${input.id}-error`);
        if (msg) { msg.textContent = d.message; msg.hidden = false; }
      }
      const first = el.querySelector('[aria-invalid="true"]');
      if (first) first.focus();
    }

    function rejectForm() {
      const id = nextId('reason');
      const form = h('form', {
        class: 'card-form', novalidate: true,
        onsubmit: (ev) => { ev.preventDefault(); reject(form.reason.value.trim()); },
        onkeydown: (ev) => { if (ev.key === 'Escape') cancel(); },
      },
      h('label', { for: id, text: 'Reason (optional)' }),
      h('textarea', { id, name: 'reason', rows: '2', maxlength: '2000' }),
      h('div', { class: 'card-actions' },
        h('button', { type: 'submit', class: 'btn btn-danger', text: 'Reject' }),
        h('button', { type: 'button', class: 'btn', text: 'Cancel', onclick: () => cancel() })),
      errorSlot());
      return form;
    }

    function cancel() {
      card.mode = 'view';
      render();
      const b = el.querySelector('[data-act="approve"]');
      if (b) b.focus();
    }

    function editForm(v) {
      const form = h('form', {
        class: 'card-form', novalidate: true,
        onkeydown: (ev) => { if (ev.key === 'Escape') cancel(); },
      });
      const fieldsBox = h('div', { class: 'fields' }, h('p', { class: 'muted', text: 'Loading the fields…' }));
      form.append(
        h('p', { class: 'form-hint', text: 'Change what should be done, then approve. Empty optional fields are left out.' }),
        fieldsBox,
        h('div', { class: 'card-actions' },
          h('button', { type: 'submit', class: 'btn btn-primary', text: 'Approve with changes' }),
          h('button', { type: 'button', class: 'btn', text: 'Cancel', onclick: () => cancel() })),
        errorSlot());
      let collect = null;
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (!collect) return;
        const out = collect();
        if (out) approve(out);
      });
      tools().then((map) => {
        const tool = map.get(v.tool);
        collect = tool && tool.schema && tool.schema.properties
          ? schemaFields(fieldsBox, tool.schema, v.args || {})
          : jsonField(fieldsBox, v.args || {});
      }).catch(() => {
        collect = jsonField(fieldsBox, v.args || {});
      }).finally(() => {
        if (el.contains(form)) focusFirstField();
      });
      return form;
    }

    function fieldError(input, message) {
      input.setAttribute('aria-invalid', 'true');
      const details = input.closest('details');
      if (details) details.open = true;
      const msg = el.querySelector(`#${input.id}-error`);
      if (msg) { msg.textContent = message; msg.hidden = false; }
    }

    function clearFieldErrors(box) {
      for (const i of box.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
      for (const m of box.querySelectorAll('.field-error')) { m.hidden = true; m.textContent = ''; }
    }

    function schemaFields(box, schema, args) {
      const required = new Set(schema.required || []);
      const specs = Object.entries(schema.properties).map(([n, p]) => fieldSpec(n, p, schema, required.has(n)));
      const extra = Object.keys(args).filter((k) => !schema.properties[k]);
      const inputs = [];
      box.replaceChildren();
      const more = h('details', { class: 'more-fields' }, h('summary'));
      let hiddenCount = 0;
      for (const spec of specs) {
        const id = nextId(`f-${spec.name}`);
        const value = args[spec.name];
        let input;
        const common = { id, name: spec.name, 'data-field': spec.name, 'aria-describedby': `${id}-hint ${id}-error` };
        if (spec.kind === 'boolean') {
          input = h('input', { ...common, type: 'checkbox', checked: value === true });
        } else if (spec.kind === 'select') {
          input = h('select', common,
            spec.required ? null : h('option', { value: '', text: '(not set)' }),
            spec.options.map((o) => h('option', { value: o, text: o, selected: o === value })));
          if (value !== undefined && value !== null) input.value = value;
        } else if (spec.kind === 'json') {
          input = h('textarea', { ...common, rows: '3', class: 'mono', value: value === undefined ? '' : JSON.stringify(value, null, 2) });
        } else if (spec.kind === 'text' && spec.name.match(/notes|body|note|reason|description|message/) && spec.format === undefined) {
          input = h('textarea', { ...common, rows: '2', value: value === undefined || value === null ? '' : String(value) });
        } else {
          input = h('input', {
            ...common,
            type: 'text',
            inputmode: spec.kind === 'text' ? null : 'decimal',
            autocomplete: 'off',
            spellcheck: spec.format ? 'false' : null,
            value: value === undefined || value === null ? '' : String(value),
          });
        }
        const hintText = [spec.description, spec.format === 'date-time' ? 'For example 2026-11-24T15:00:00-05:00.' : '',
          spec.format === 'date-time' && value ? `Currently ${formatDateTime(value)}, your time.` : ''].filter(Boolean).join(' ');
        const label = h('label', { for: id }, humanize(spec.name), spec.required ? h('span', { class: 'req', text: ' (required)' }) : null);
        const field = h('div', { class: `field field-${spec.kind}` },
          spec.kind === 'boolean' ? h('div', { class: 'check' }, input, label) : [label, input],
          h('p', { class: 'hint', id: `${id}-hint`, text: hintText, hidden: !hintText }),
          h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
        // Fields in use come first; the unused optional ones wait behind "More fields".
        if (spec.required || (value !== undefined && value !== null)) box.appendChild(field);
        else { more.appendChild(field); hiddenCount += 1; }
        inputs.push({ spec, input, original: value });
      }
      if (hiddenCount) {
        more.querySelector('summary').textContent = `More fields (${hiddenCount})`;
        box.appendChild(more);
      }
      return () => {
        clearFieldErrors(box);
        const out = {};
        for (const k of extra) out[k] = args[k];
        let ok = true;
        for (const { spec, input, original } of inputs) {
          if (spec.kind === 'boolean') {
            if (input.checked || original !== undefined) out[spec.name] = input.checked;
            continue;
          }
          const raw = input.value.trim();
          if (raw === '') {
            if (spec.required) out[spec.name] = '';
            continue;
          }
          if (spec.kind === 'number' || spec.kind === 'integer') {
            const n = Number(raw);
            if (!Number.isFinite(n) || (spec.kind === 'integer' && !Number.isInteger(n))) {
              fieldError(input, spec.kind === 'integer' ? 'Enter a whole number.' : 'Enter a number.');
              ok = false;
              continue;
            }
            out[spec.name] = n;
          } else if (spec.kind === 'json') {
            try { out[spec.name] = JSON.parse(raw); } catch {
              fieldError(input, 'This is not valid JSON.');
              ok = false;
            }
          } else {
            out[spec.name] = raw;
          }
        }
        if (!ok) {
          const first = box.querySelector('[aria-invalid="true"]');
          if (first) first.focus();
          return null;
        }
        return out;
      };
    }

    function jsonField(box, args) {
      const id = nextId('args');
      const ta = h('textarea', { id, rows: '8', class: 'mono', 'data-field': 'args', 'aria-describedby': `${id}-error`, value: JSON.stringify(args, null, 2) });
      box.replaceChildren(h('div', { class: 'field' },
        h('label', { for: id, text: 'Arguments (JSON)' }), ta,
        h('p', { class: 'field-error', id: `${id}-error`, hidden: true })));
      return () => {
        clearFieldErrors(box);
        try {
          const v = JSON.parse(ta.value);
          if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
          return v;
        } catch {
          fieldError(ta, 'Enter the arguments as a JSON object, e.g. {"title": "Call Jane"}.');
          ta.focus();
          return null;
        }
      };
    }

    render();
    if (poll) {
      // Polled while pending and on screen (the approvals queue refreshes its own cards).
      card.visible = !visibility;
      if (visibility) visibility.observe(el);
      el.heimdellCard = card;
      if (!liveCards.has(view.id)) liveCards.set(view.id, new Set());
      liveCards.get(view.id).add(card);
    }
    if (verify && view.status === 'pending') {
      // A view handed over with a proposal may not say what *this* viewer may do: ask now,
      // rather than showing the wrong buttons until the next poll.
      api('GET', `/actions/${view.id}`).then((v) => {
        if (!card.busy && card.mode === 'view' && (v.status !== card.view.status || v.can_approve !== card.view.can_approve)) set(v);
      }).catch(() => {});
    }
    return card;
  }

  function resultLinks(result) {
    if (!result || typeof result !== 'object') return null;
    const links = [];
    for (const type of ['task', 'contact', 'company', 'deal']) {
      const rec = result[type];
      if (rec && typeof rec === 'object' && rec.id) {
        const name = rec.title || rec.name || [rec.first_name, rec.last_name].filter(Boolean).join(' ') || type;
        links.push(h('a', { href: `#/${type}/${rec.id}` }, `Open the ${type}: `, name));
      }
    }
    return links.length ? h('p', { class: 'result-links' }, links) : null;
  }

  function resultDetails(result) {
    if (result === null || result === undefined) return null;
    return h('details', { class: 'result' },
      h('summary', { text: 'Details' }),
      h('pre', { class: 'mono', text: JSON.stringify(result, null, 2) }));
  }

  /** Every ~2 s, re-reads pending cards on the page so decisions made elsewhere show up. */
  const cardPoller = {
    timer: null,
    start() {
      if (this.timer) return;
      const tick = async () => {
        const ids = [];
        for (const [id, cards] of liveCards) {
          for (const c of [...cards]) {
            if (!c.el.isConnected) { cards.delete(c); if (visibility) visibility.unobserve(c.el); }
          }
          if (!cards.size) { liveCards.delete(id); continue; }
          const pending = [...cards].some((c) => c.view.status === 'pending' && !c.busy && c.visible);
          if (pending) ids.push(id);
        }
        if (ids.length && state.user && !document.hidden) {
          await Promise.all(ids.map(async (id) => {
            try {
              const v = await api('GET', `/actions/${id}`);
              for (const c of liveCards.get(id) || []) {
                if (!c.busy && (c.view.status !== v.status || c.view.can_approve !== v.can_approve)) c.set(v);
              }
            } catch { /* the connection watch reports outages */ }
          }));
        }
        this.timer = setTimeout(tick, 2000);
      };
      this.timer = setTimeout(tick, 2000);
    },
  };

  // ---------------------------------------------------------------- chat

  /** Streams one chat turn; calls onDelta(text) per chunk and resolves to the final reply. */
  async function chatTurn(body, onDelta) {
    const res = await rawFetch('/chat/stream', {
      method: 'POST',
      headers: headersFor('POST', true, 'text/event-stream'),
      body: JSON.stringify(body),
    });
    if (!res.ok) {
      const err = await errorFrom(res);
      handleAuthFailure(err);
      throw err;
    }

    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let final = null;
    const dispatch = (raw) => {
      let event = 'message';
      const data = [];
      for (const line of raw.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? '' : line.slice(i + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (!data.length) return;
      let payload;
      try { payload = JSON.parse(data.join('\n')); } catch { return; }
      if (event === 'delta') {
        if (payload && typeof payload.text === 'string') onDelta(payload.text);
      } else if (event === 'done') {
        final = payload;
      } else if (event === 'error') {
        const e = (payload && payload.error) || {};
        throw new ApiError(200, e.code || 'error', e.message || 'The Copilot could not answer.', e.details);
      }
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf = (buf + decoder.decode(value, { stream: true })).replace(/\r\n/g, '\n');
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const raw = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          dispatch(raw);
          if (final) break;
        }
        if (final) break;
      }
      if (!final && buf.trim()) dispatch(buf);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(0, 'stream', 'The connection dropped while the reply was coming in. Try again.');
    } finally {
      reader.cancel().catch(() => {});
    }
    if (!final) throw new ApiError(0, 'stream', 'The reply stopped before it was finished. Try again.');
    return final;
  }

  /**
   * A chat panel. `context` ({contact_id}|{company_id}|{deal_id}) is sent with every message;
   * `onThread(id)` is told when the server starts a thread.
   */
  function chatPanel({ threadId = null, context = null, onThread = null, heading = 'Copilot', placeholder } = {}) {
    const inputId = nextId('chat-input');
    const log = h('div', {
      class: 'chat-log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-label': 'Conversation', tabindex: '0',
    });
    const input = h('textarea', {
      id: inputId, class: 'chat-input', name: 'message', rows: '1', maxlength: '8000',
      placeholder: placeholder || 'Ask or tell the Copilot…',
      autocomplete: 'off',
      'aria-describedby': `${inputId}-hint`,
    });
    const send = h('button', { type: 'submit', class: 'btn btn-primary send', text: 'Send' });
    const form = h('form', { class: 'composer', onsubmit: (ev) => { ev.preventDefault(); submit(); } },
      h('label', { for: inputId, class: 'visually-hidden', text: 'Message the Copilot' }),
      input, send,
      h('p', { id: `${inputId}-hint`, class: 'composer-hint', text: 'Enter sends · Shift+Enter starts a new line' }));
    const el = h('section', { class: 'chat', 'aria-label': heading }, log, form);
    const panel = { el, threadId, input, busy: false };

    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        submit();
      }
    });
    input.addEventListener('input', () => grow());
    function grow() {
      input.style.height = 'auto';
      input.style.height = `${Math.min(input.scrollHeight + 2, 200)}px`;
      input.style.overflowY = input.scrollHeight > 200 ? 'auto' : 'hidden';
    }

    let stickToBottom = true;
    log.addEventListener('scroll', () => {
      stickToBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    });
    const scrollDown = (force) => { if (force || stickToBottom) log.scrollTop = log.scrollHeight; };

    function emptyState() {
      const tips = context
        ? ['Summarise this record', 'What should I do next here?', 'Create a task to follow up tomorrow at 9']
        : ["What's on my plate today?", 'Which deals are going stale?', 'Create a task to send the proposal today at 16:00'];
      return h('div', { class: 'chat-empty' },
        h('p', { text: context ? 'Ask about this record, or say what should change. Nothing changes until someone approves it.'
          : 'Ask about your pipeline, or say what should happen. Nothing changes until someone approves it.' }),
        h('ul', { class: 'suggestions', 'aria-label': 'Suggestions' },
          tips.map((t) => h('li', null, h('button', {
            type: 'button', class: 'chip', text: t,
            onclick: () => { input.value = t; grow(); input.focus(); },
          })))));
    }

    function messageEl(m) {
      const who = m.role === 'user' ? 'You' : 'Copilot';
      const cited = new Set();
      const body = h('div', { class: 'msg-body' });
      if (m.role === 'user') {
        body.appendChild(h('p', { class: 'plain', text: m.text || '' }));
      } else {
        body.appendChild(richText(m.text || '', cited));
      }
      const extraCites = (m.citations || []).filter((c) => c && c.type && c.id && !cited.has(`${c.type}:${String(c.id).toLowerCase()}`));
      const el2 = h('div', { class: `msg msg-${m.role === 'user' ? 'user' : 'assistant'}` },
        h('p', { class: 'msg-who' }, h('span', { text: who }), m.created_at ? [' · ', timeEl(m.created_at, relative(m.created_at))] : null),
        body,
        extraCites.length ? h('p', { class: 'sources' }, h('span', { class: 'label', text: 'Sources: ' }),
          extraCites.map((c) => [citationNode(c.type, String(c.id).toLowerCase()), ' '])) : null,
        (m.warnings && m.warnings.length) ? h('ul', { class: 'warnings', 'aria-label': 'Warnings' },
          m.warnings.map((w) => h('li', { text: String(w) }))) : null,
        (m.actions && m.actions.length) ? h('div', { class: 'msg-actions' }, m.actions.map((a) => actionCard(a).el)) : null);
      return el2;
    }

    function show(messages) {
      log.replaceChildren();
      if (!messages.length) log.appendChild(emptyState());
      for (const m of messages) log.appendChild(messageEl(m));
      scrollDown(true);
    }

    async function load() {
      if (!panel.threadId) { show([]); return; }
      log.replaceChildren(h('p', { class: 'loading', text: 'Loading the conversation…' }));
      try {
        const t = await api('GET', `/threads/${panel.threadId}`);
        show(t.messages || []);
        const about = !context && ENTITY_PATH[t.context_type] && t.context_id;
        if (about) {
          log.prepend(h('p', { class: 'thread-context' }, `This conversation is about a ${t.context_type}: `,
            h('a', { href: `#/${ENTITY_PATH[t.context_type]}/${t.context_id}`, text: `open the ${t.context_type}` }), '.'));
        }
      } catch (e) {
        log.replaceChildren(errorBlock(e, load));
      }
    }

    async function submit() {
      const text = input.value.trim();
      if (!text || panel.busy) return;
      panel.busy = true;
      send.disabled = true;
      send.textContent = 'Sending…';
      const empty = log.querySelector('.chat-empty');
      if (empty) empty.remove();
      clearError();
      log.appendChild(messageEl({ role: 'user', text }));
      input.value = '';
      grow();
      const pendingEl = h('div', { class: 'msg msg-assistant streaming', 'aria-busy': 'true' },
        h('p', { class: 'msg-who' }, h('span', { text: 'Copilot' })),
        h('div', { class: 'msg-body' }, h('p', { class: 'plain typing', text: 'Thinking…' })));
      log.appendChild(pendingEl);
      scrollDown(true);
      announce('Sent. The Copilot is replying…');
      let streamed = '';
      const textEl = pendingEl.querySelector('.plain');
      const body = { message: text };
      if (panel.threadId) body.thread_id = panel.threadId;
      if (context) body.context = context;
      try {
        const res = await chatTurn(body, (chunk) => {
          streamed += chunk;
          textEl.classList.remove('typing');
          textEl.textContent = streamed.replace(MARKER, '').replace(/\[\[[^\]]*$/, '');
          scrollDown(false);
        });
        const reply = (res && res.reply) || {};
        // The streamed text was not yet checked; when the check changed it, say so plainly.
        const warnings = [...(reply.warnings || [])];
        if (res && res.corrected) {
          warnings.unshift('Corrected after it streamed: what could not be verified in your CRM was taken out of the reply above.');
        }
        const done = messageEl({ role: 'assistant', text: reply.text || streamed, citations: reply.citations, actions: reply.actions, warnings });
        pendingEl.replaceWith(done);
        scrollDown(false);
        const n = (reply.actions || []).length;
        const fixed = res && res.corrected ? ' It was corrected after it streamed.' : '';
        announce((n ? `Reply ready, with ${n} change${n === 1 ? '' : 's'} to approve.` : 'Reply ready.') + fixed);
        if (res && res.thread_id && res.thread_id !== panel.threadId) {
          panel.threadId = res.thread_id;
          if (onThread) onThread(res.thread_id);
        }
      } catch (e) {
        const failed = h('div', { class: 'msg msg-assistant msg-failed' },
          h('p', { class: 'msg-who' }, h('span', { text: 'Copilot' })),
          h('div', { class: 'msg-body' },
            h('p', { class: 'plain', text: streamed ? `${streamed.replace(MARKER, '')} …` : '' }),
            h('p', { class: 'error-text', text: `No reply: ${e.message}` }),
            h('button', {
              type: 'button', class: 'btn btn-small', text: 'Put my message back',
              onclick: () => { input.value = text; grow(); input.focus(); failed.remove(); },
            })));
        pendingEl.replaceWith(failed);
        showError(e.message);
        scrollDown(true);
      } finally {
        panel.busy = false;
        send.disabled = false;
        send.textContent = 'Send';
      }
    }

    panel.load = load;
    panel.focus = () => input.focus();
    load();
    return panel;
  }

  // ---------------------------------------------------------------- view plumbing

  let current = { cleanup: null };

  function errorBlock(e, retry) {
    const box = h('div', { class: 'error-block', role: 'alert' },
      h('p', { text: e.message || 'Something went wrong.' }));
    if (retry) {
      box.appendChild(h('button', { type: 'button', class: 'btn', text: 'Try again', onclick: () => retry() }));
      if (e.code === 'network') {
        const hook = () => { reconnectHooks.delete(hook); if (box.isConnected) retry(); };
        reconnectHooks.add(hook);
      }
    }
    return box;
  }

  function loadingBlock(text = 'Loading…') {
    return h('p', { class: 'loading', role: 'status', text });
  }

  function pageHeading(text, extra) {
    return h('div', { class: 'page-head' }, h('h1', { id: 'page-title', tabindex: '-1', text }), extra || null);
  }

  function setTitle(text) {
    document.title = text ? `${text} · Heimdell` : 'Heimdell';
  }

  function setNav(which) {
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === which) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function mount(node) {
    const main = $('#main');
    main.replaceChildren(node);
  }

  /** Puts keyboard focus somewhere sensible after a route change. */
  function focusView(target) {
    const el = target || $('#page-title') || $('#main');
    if (el) el.focus({ preventScroll: false });
  }

  // ---------------------------------------------------------------- sign in

  function viewSignIn(note) {
    $('#topbar').hidden = true;
    document.body.classList.remove('fill');
    setTitle('Sign in');
    const form = h('form', { class: 'signin card', novalidate: true, 'aria-labelledby': 'signin-title' },
      h('div', { class: 'signin-brand' }, h('img', { src: '/assets/icon.svg', alt: '', width: '40', height: '40' })),
      h('h1', { id: 'signin-title', text: 'Sign in to Heimdell' }),
      note ? h('p', { class: 'notice', text: note }) : null,
      h('div', { class: 'field' },
        h('label', { for: 'email', text: 'Email' }),
        h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true, spellcheck: 'false' })),
      h('div', { class: 'field' },
        h('label', { for: 'password', text: 'Password' }),
        h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
      h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'sign-in', text: 'Sign in' }));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const email = form.email.value.trim();
      const password = form.password.value;
      if (!email || !password) {
        showError(!email ? 'Enter your email address.' : 'Enter your password.');
        (!email ? form.email : form.password).focus();
        return;
      }
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      button.textContent = 'Signing in…';
      clearErrors();
      try {
        const res = await api('POST', '/session', { email, password }, { signedOutOk: true });
        state.csrf = res.csrf_token;
        sessionStorage.setItem(CSRF_KEY, res.csrf_token);
        state.user = res.user;
        try {
          const me = await api('GET', '/session');
          state.user = me.user;
          state.tenant = me.tenant;
        } catch { /* the sign-in answer is enough to go on */ }
        signedIn();
      } catch (e) {
        button.disabled = false;
        button.textContent = 'Sign in';
        showError(e.message);
        form.password.select();
        form.password.focus();
      }
    });
    mount(h('div', { class: 'signin-wrap' }, form));
    form.email.focus();
  }

  function showWho() {
    $('#who-name').replaceChildren(
      h('span', { class: 'who-person', text: state.user.name }),
      h('span', { class: 'who-detail', text: ` · ${humanize(state.user.role)}${state.tenant ? ` · ${state.tenant.name}` : ''}` }));
  }

  function signedIn() {
    $('#topbar').hidden = false;
    showWho();
    clearErrors();
    const to = state.returnTo && !state.returnTo.startsWith('#/signin') ? state.returnTo : '#/chat';
    state.returnTo = null;
    if (location.hash === to) route();
    else location.hash = to;
    approvalsBadge.start();
    cardPoller.start();
  }

  function signedOut(note) {
    state.user = null;
    state.tenant = null;
    state.csrf = null;
    state.tools = null;
    sessionStorage.removeItem(CSRF_KEY);
    approvalsBadge.stop();
    if (current.cleanup) { current.cleanup(); current.cleanup = null; }
    if (!location.hash.startsWith('#/signin')) state.returnTo = location.hash || null;
    clearErrors();
    viewSignIn(note);
  }

  async function signOut() {
    try { await api('DELETE', '/session'); } catch { /* signed out here either way */ }
    state.returnTo = null;
    signedOut('You are signed out.');
    history.replaceState(null, '', '#/signin');
  }

  // ---------------------------------------------------------------- approvals badge

  const approvalsBadge = {
    timer: null,
    async refresh() {
      try {
        const r = await api('GET', '/actions?status=pending');
        this.show((r.items || []).filter((a) => a.can_approve).length);
      } catch { /* shown elsewhere */ }
    },
    show(n) {
      const el = $('#approvals-count');
      el.replaceChildren(String(n), h('span', { class: 'visually-hidden', text: ' waiting for approval' }));
      el.hidden = n === 0;
    },
    start() {
      this.stop();
      const tick = async () => {
        if (!document.hidden) await this.refresh();
        this.timer = setTimeout(tick, 15000);
      };
      tick();
    },
    stop() { clearTimeout(this.timer); this.timer = null; },
  };

  // ---------------------------------------------------------------- chat view

  function viewChat(threadId) {
    setNav('chat');
    document.body.classList.add('fill');
    setTitle('Chat');
    const list = h('ul', { class: 'thread-list' });
    const toggle = h('button', {
      type: 'button', class: 'btn btn-quiet threads-toggle', 'aria-expanded': 'false', 'aria-controls': 'threads-body',
      text: 'Conversations',
    });
    const threadsBody = h('div', { id: 'threads-body', class: 'threads-body' },
      h('a', { class: 'btn btn-block new-thread', href: '#/chat', text: 'New conversation' }),
      h('h2', { class: 'threads-title', text: 'Recent conversations' }),
      list);
    const aside = h('nav', { class: 'threads collapsed', 'aria-label': 'Conversations' }, toggle, threadsBody);
    toggle.addEventListener('click', () => {
      const open = aside.classList.toggle('collapsed') === false;
      toggle.setAttribute('aria-expanded', String(open));
    });

    async function loadThreads() {
      list.replaceChildren(h('li', { class: 'muted', text: 'Loading…' }));
      try {
        const r = await api('GET', '/threads');
        const items = r.items || [];
        list.replaceChildren(...(items.length ? items.map((t) => h('li', null,
          h('a', { href: `#/chat/${t.id}`, 'aria-current': t.id === chat.threadId ? 'page' : null },
            h('span', { class: 'thread-title', text: t.title || 'Untitled conversation' }),
            h('span', { class: 'thread-time', text: relative(t.updated_at || t.created_at) }))))
          : [h('li', { class: 'muted', text: 'No conversations yet.' })]));
      } catch (e) {
        if (e.status === 404) list.replaceChildren(h('li', { class: 'muted', text: 'No conversations yet.' }));
        else list.replaceChildren(h('li', { class: 'error-text', text: e.message }));
      }
    }

    const chat = chatPanel({
      threadId,
      onThread: (id) => {
        history.replaceState(null, '', `#/chat/${id}`);
        loadThreads();
      },
    });
    const page = h('div', { class: 'chat-page' },
      aside,
      h('div', { class: 'chat-main' },
        h('h1', { id: 'page-title', class: 'visually-hidden', tabindex: '-1', text: 'Chat with the Copilot' }),
        chat.el));
    mount(page);
    loadThreads();
    chat.focus();
    return null;
  }

  // ---------------------------------------------------------------- record pages

  function fieldList(rows) {
    const dl = h('dl', { class: 'facts' });
    for (const [label, value] of rows) {
      if (value === null || value === undefined || value === '' || (Array.isArray(value) && !value.length)) continue;
      dl.append(h('dt', { text: label }), h('dd', null, value));
    }
    return dl;
  }

  function section(title, content, empty) {
    const id = nextId('sec');
    const hasContent = content && !(Array.isArray(content) && !content.length);
    return h('section', { class: 'card section', 'aria-labelledby': id },
      h('h2', { id, text: title }),
      hasContent ? content : h('p', { class: 'muted', text: empty || 'Nothing here yet.' }));
  }

  function recordLink(type, id, text) {
    return id ? h('a', { href: `#/${type}/${id}`, text: text || humanize(type) }) : (text || null);
  }

  function taskList(tasks) {
    if (!tasks || !tasks.length) return null;
    return h('ul', { class: 'rows' }, tasks.map((t) => h('li', { class: 'row' },
      h('a', { href: `#/task/${t.id}`, class: 'row-title', text: t.title }),
      h('span', { class: 'row-meta' },
        t.due_at ? ['Due ', timeEl(t.due_at)] : 'No due date',
        t.owner_name ? ` · ${t.owner_name}` : ''))));
  }

  function dealList(deals) {
    if (!deals || !deals.length) return null;
    return h('ul', { class: 'rows' }, deals.map((d) => h('li', { class: 'row' },
      h('a', { href: `#/deal/${d.id}`, class: 'row-title', text: d.name }),
      h('span', { class: 'row-meta', text: [d.stage_name, money(d.value_minor, d.currency), d.owner_name].filter(Boolean).join(' · ') }))));
  }

  function contactList(contacts) {
    if (!contacts || !contacts.length) return null;
    return h('ul', { class: 'rows' }, contacts.map((c) => h('li', { class: 'row' },
      h('a', { href: `#/contact/${c.id}`, class: 'row-title', text: `${c.first_name} ${c.last_name}`.trim() }),
      h('span', { class: 'row-meta', text: [c.title, c.email].filter(Boolean).join(' · ') }))));
  }

  function timeline(items) {
    if (!items || !items.length) return null;
    return h('ol', { class: 'timeline' }, items.map((a) => h('li', null,
      h('p', { class: 'tl-head' },
        h('span', { class: `kind kind-${String(a.kind).replace(/[^a-z_]/gi, '')}`, text: humanize(a.kind) }),
        a.subject ? h('span', { class: 'tl-subject', text: a.subject }) : null),
      a.body ? h('p', { class: 'tl-body', text: a.body }) : null,
      h('p', { class: 'tl-meta' }, timeEl(a.occurred_at), a.actor_name ? ` · ${a.actor_name}` : ''))));
  }

  function stageBar(stages, currentId) {
    if (!stages || !stages.length) return null;
    const idx = stages.findIndex((s) => s.id === currentId);
    return h('ol', { class: 'stages', 'aria-label': 'Pipeline stages' }, stages.map((s, i) => h('li', {
      class: `stage${s.id === currentId ? ' current' : ''}${i < idx ? ' past' : ''}${s.is_won ? ' won' : ''}${s.is_lost ? ' lost' : ''}`,
      'aria-current': s.id === currentId ? 'step' : null,
    }, s.name)));
  }

  function history_(changes) {
    if (!changes || !changes.length) return null;
    const show = (v) => (v && typeof v === 'object' ? v.name || JSON.stringify(v) : v === null || v === undefined ? '—' : String(v));
    return h('ul', { class: 'rows' }, changes.map((c) => h('li', { class: 'row' },
      h('span', { class: 'row-title' }, `${humanize(c.field)}: ${show(c.old_value)} → ${show(c.new_value)}`),
      h('span', { class: 'row-meta' }, timeEl(c.changed_at), c.reason_code ? ` · ${c.reason_code}` : '', c.note ? ` · ${c.note}` : ''))));
  }

  const RECORD = {
    contact: {
      tool: 'get_contact', arg: 'contact_id',
      title: (r) => `${r.contact.first_name} ${r.contact.last_name}`.trim(),
      subtitle: (r) => [r.contact.title, r.contact.company_name].filter(Boolean).join(' at '),
      body: (r) => {
        const c = r.contact;
        const consent = [c.email_opt_out && 'No email', c.sms_opt_out && 'No SMS', c.do_not_call && 'Do not call',
          c.marketing_consent && 'Marketing consent'].filter(Boolean);
        return [
          section('Details', fieldList([
            ['Email', c.email ? h('a', { href: `mailto:${c.email}`, text: c.email }) : null],
            ['Phone', c.phone ? h('a', { href: `tel:${c.phone}`, text: c.phone }) : null],
            ['Title', c.title],
            ['Company', recordLink('company', c.company_id, c.company_name)],
            ['Owner', c.owner_name || 'Unowned'],
            ['Time zone', c.timezone],
            ['Consent', consent.length ? h('span', { class: 'tags' }, consent.map((t) => h('span', { class: 'tag', text: t }))) : 'No restrictions recorded'],
            ['Lawful basis', c.lawful_basis ? humanize(c.lawful_basis) : null],
          ])),
          section('Open tasks', taskList(r.open_tasks), 'No open tasks.'),
          section('Deals', dealList(r.deals), 'No deals.'),
          section('Timeline', timeline(r.timeline), 'No activity yet.'),
        ];
      },
    },
    company: {
      tool: 'get_company', arg: 'company_id',
      title: (r) => r.company.name,
      subtitle: (r) => [r.company.industry, r.company.domain].filter(Boolean).join(' · '),
      body: (r) => {
        const c = r.company;
        return [
          section('Details', fieldList([
            ['Domain', c.domain],
            ['Industry', c.industry],
            ['Phone', c.phone ? h('a', { href: `tel:${c.phone}`, text: c.phone }) : null],
            ['Owner', c.owner_name || 'Unowned'],
          ])),
          section('Contacts', contactList(r.contacts), 'No contacts.'),
          section('Open tasks', taskList(r.open_tasks), 'No open tasks.'),
          section('Deals', dealList(r.deals), 'No deals.'),
          section('Timeline', timeline(r.timeline), 'No activity yet.'),
        ];
      },
    },
    deal: {
      tool: 'get_deal', arg: 'deal_id',
      title: (r) => r.deal.name,
      subtitle: (r) => [r.deal.stage_name, money(r.deal.value_minor, r.deal.currency)].filter(Boolean).join(' · '),
      body: (r) => {
        const d = r.deal;
        return [
          section('Details', [
            stageBar(r.stages, d.stage_id),
            fieldList([
              ['Stage', `${d.stage_name} (${d.stage_probability}%)`],
              ['Value', money(d.value_minor, d.currency)],
              ['Company', recordLink('company', d.company_id, d.company_name)],
              ['Contact', recordLink('contact', d.contact_id, d.contact_name)],
              ['Expected close', d.expected_close ? formatDate(d.expected_close) : null],
              ['Owner', d.owner_name || 'Unowned'],
              ['Last activity', d.last_activity_at ? timeEl(d.last_activity_at) : null],
              ['Closed', d.closed_at ? timeEl(d.closed_at) : null],
            ]),
          ]),
          section('Open tasks', taskList(r.open_tasks), 'No open tasks.'),
          section('Stage history', history_(r.history), 'No changes yet.'),
          section('Timeline', timeline(r.timeline), 'No activity yet.'),
        ];
      },
    },
  };

  const threadKey = (type, id) => `heimdell.thread.${type}.${id}`;

  function viewRecord(type, id) {
    setNav(null);
    const spec = RECORD[type];
    const details = h('div', { class: 'record-details' }, loadingBlock(`Loading the ${type}…`));
    const context = { [spec.arg]: id };
    const chat = chatPanel({
      threadId: sessionStorage.getItem(threadKey(type, id)),
      context,
      heading: `Copilot on this ${type}`,
      placeholder: `Ask about this ${type}…`,
      onThread: (tid) => sessionStorage.setItem(threadKey(type, id), tid),
    });
    const chatId = nextId('record-chat');
    const page = h('div', { class: 'record-page' },
      h('div', { class: 'record-main' }, details),
      h('aside', { class: 'record-chat card', id: chatId, 'aria-labelledby': `${chatId}-title` },
        h('div', { class: 'record-chat-head' },
          h('h2', { id: `${chatId}-title`, text: 'Copilot' }),
          h('p', { class: 'muted', text: `Talking about this ${type}.` })),
        chat.el));
    mount(page);

    async function load() {
      details.replaceChildren(loadingBlock(`Loading the ${type}…`));
      try {
        const res = await runTool(spec.tool, context);
        const r = res.result;
        setTitle(spec.title(r));
        details.replaceChildren(
          h('p', { class: 'crumbs' }, h('span', { class: 'kind-label', text: humanize(type) })),
          pageHeading(spec.title(r), h('button', { type: 'button', class: 'btn btn-quiet jump-chat', text: 'Jump to chat', onclick: () => chat.focus() })),
          spec.subtitle(r) ? h('p', { class: 'subtitle', text: spec.subtitle(r) }) : null,
          ...spec.body(r));
        focusView();
      } catch (e) {
        setTitle(humanize(type));
        details.replaceChildren(pageHeading(humanize(type)), errorBlock(e, load));
        focusView();
      }
    }
    load();
    return null;
  }

  function viewTask(id) {
    setNav(null);
    const box = h('div', { class: 'narrow' }, loadingBlock('Loading the task…'));
    mount(box);
    async function load() {
      try {
        const t = await api('GET', `/tasks/${id}`);
        setTitle(t.title);
        const actions = h('div', { class: 'stack' });
        const done = t.status === 'done';
        box.replaceChildren(
          h('p', { class: 'crumbs' }, h('span', { class: 'kind-label', text: 'Task' })),
          pageHeading(t.title),
          section('Details', fieldList([
            ['Status', done ? `Done${t.completed_at ? ` on ${formatDateTime(t.completed_at)}` : ''}` : 'Open'],
            ['Due', t.due_at ? timeEl(t.due_at) : 'No due date'],
            ['Owner', t.owner_name || 'Unowned'],
            ['Contact', recordLink('contact', t.contact_id, t.contact_name)],
            ['Company', recordLink('company', t.company_id, t.company_id ? 'Open the company' : null)],
            ['Deal', recordLink('deal', t.deal_id, t.deal_name)],
            ['Notes', t.notes ? h('span', { class: 'pre', text: t.notes }) : null],
          ])),
          done ? null : h('div', { class: 'page-actions' },
            h('button', {
              type: 'button', class: 'btn', text: 'Mark done…',
              onclick: async (ev) => {
                const b = ev.currentTarget;
                b.disabled = true;
                try {
                  const v = await runTool('complete_task', { task_id: id });
                  if (v.id) {
                    const c = actionCard(v);
                    actions.replaceChildren(c.el);
                    c.el.focus();
                  }
                } catch (e) {
                  showError(e.message);
                } finally {
                  b.disabled = false;
                }
              },
            })),
          actions);
        focusView();
      } catch (e) {
        box.replaceChildren(pageHeading('Task'), errorBlock(e, load));
        focusView();
      }
    }
    load();
    return null;
  }

  // ---------------------------------------------------------------- approvals queue

  function viewApprovals() {
    setNav('approvals');
    setTitle('Approvals');
    const manager = isManager();
    const mine = h('div', { class: 'cards', id: 'queue-mine' });
    const others = h('div', { class: 'cards', id: 'queue-others' });
    const decided = h('div', { class: 'cards', id: 'queue-decided' });
    const status = h('div', { class: 'muted queue-status' }, loadingBlock('Loading approvals…'));
    const mineTitle = manager ? 'Waiting for your approval' : 'Yours to approve';
    const othersTitle = manager ? 'Waiting for someone else' : 'Waiting for a manager or admin';
    const page = h('div', { class: 'narrow' },
      pageHeading('Approvals'),
      h('p', { class: 'subtitle', text: manager
        ? 'Changes waiting for a decision across the team. This list refreshes by itself.'
        : 'Your requests that are waiting for a decision. This list refreshes by itself.' }),
      status,
      h('section', { 'aria-labelledby': 'q-mine' }, h('h2', { id: 'q-mine', text: mineTitle }), mine),
      h('section', { 'aria-labelledby': 'q-others' }, h('h2', { id: 'q-others', text: othersTitle }), others),
      h('section', { 'aria-labelledby': 'q-decided', class: 'decided-section', hidden: true },
        h('h2', { id: 'q-decided', text: 'Decided while you were here' }), decided));
    mount(page);
    focusView();

    const shown = new Map(); // id -> card
    let timer = null;
    let stopped = false;

    function placeholder(box, text) {
      if (![...box.children].some((c) => c.classList.contains('action-card'))) {
        if (!box.querySelector('.empty')) box.replaceChildren(h('p', { class: 'muted empty', text }));
      } else {
        const e = box.querySelector('.empty');
        if (e) e.remove();
      }
    }

    function moveToDecided(card) {
      const hadFocus = card.el.contains(document.activeElement);
      decided.prepend(card.el);
      page.querySelector('.decided-section').hidden = false;
      if (hadFocus) card.el.focus();
    }

    async function refresh() {
      if (document.hidden) {
        if (!stopped) timer = setTimeout(refresh, 2000);
        return;
      }
      try {
        const r = await api('GET', '/actions?status=pending');
        const items = r.items || [];
        const ids = new Set(items.map((a) => a.id));
        for (const v of items) {
          let card = shown.get(v.id);
          const box = v.can_approve ? mine : others;
          if (!card) {
            card = actionCard(v, { onDecided: () => moveToDecided(card), verify: false, poll: false });
            shown.set(v.id, card);
            box.appendChild(card.el);
          } else if (!card.busy && card.mode === 'view' && (card.view.status !== v.status || card.view.can_approve !== v.can_approve)) {
            card.set(v);
          }
          if (card.view.status === 'pending' && card.el.parentElement !== box && !card.el.contains(document.activeElement)) box.appendChild(card.el);
        }
        // Cards that left the pending list were decided (or expired) elsewhere: show how.
        await Promise.all([...shown.values()].filter((c) => c.view.status === 'pending' && !ids.has(c.view.id) && !c.busy)
          .map(async (c) => {
            try { c.set(await api('GET', `/actions/${c.view.id}`)); } catch { /* try again next time */ }
          }));
        placeholder(mine, manager ? 'Nothing is waiting for your approval.' : 'Nothing of yours is waiting for your approval.');
        placeholder(others, manager ? 'Nothing is waiting for anyone else.' : 'None of your requests is waiting for a manager or admin.');
        approvalsBadge.show(items.filter((a) => a.can_approve).length);
        status.replaceChildren(`Updated ${new Intl.DateTimeFormat(undefined, { timeZone: tz(), hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date())}.`);
      } catch (e) {
        status.replaceChildren(h('span', { class: 'error-text', text: e.message }));
        if (!shown.size) {
          placeholder(mine, 'Approvals could not be loaded yet.');
          placeholder(others, 'Approvals could not be loaded yet.');
        }
      }
      if (!stopped) timer = setTimeout(refresh, 2000);
    }
    refresh();
    return () => { stopped = true; clearTimeout(timer); };
  }

  // ---------------------------------------------------------------- focus list

  const FOCUS_GROUPS = [
    ['task_overdue', 'Overdue tasks'],
    ['task_due_today', 'Due today'],
    ['deal_close_date_passed', 'Deals past their close date'],
    ['deal_closing_this_month', 'Deals closing this month'],
    ['deal_stale', 'Deals gone quiet'],
  ];

  function viewFocus(scope) {
    setNav('focus');
    const team = scope === 'team' && isManager();
    setTitle(team ? "Team's focus" : 'My focus');
    const toggle = isManager() ? h('div', { class: 'segmented', role: 'group', 'aria-label': 'Whose list' },
      h('a', { href: '#/focus', 'aria-current': team ? null : 'page', text: 'Me' }),
      h('a', { href: '#/focus/team', 'aria-current': team ? 'page' : null, text: 'Team' })) : null;
    const body = h('div', { class: 'focus-body' }, loadingBlock('Loading your focus list…'));
    const page = h('div', { class: 'narrow' },
      pageHeading(team ? "Today's focus for the team" : "Today's focus", toggle),
      body);
    mount(page);
    focusView();

    async function load() {
      body.replaceChildren(loadingBlock('Loading the focus list…'));
      try {
        const res = await runTool('daily_focus', { scope: team ? 'team' : 'me' });
        const r = res.result || {};
        const items = r.items || [];
        const parts = [h('p', { class: 'subtitle' },
          r.date ? `${formatDate(r.date)}${r.timezone ? ` (${r.timezone})` : ''} · ` : '',
          items.length ? `${items.length} thing${items.length === 1 ? '' : 's'} to look at.` : '')];
        if (!items.length) {
          parts.push(h('div', { class: 'card empty-card' },
            h('p', { text: team ? 'Nothing needs the team’s attention today.' : 'Nothing needs your attention today. Nice.' })));
        }
        for (const [kind, label] of FOCUS_GROUPS) {
          const group = items.filter((i) => i.kind === kind);
          if (!group.length) continue;
          parts.push(section(`${label} (${group.length})`, h('ul', { class: 'rows focus-list' }, group.map((i) => h('li', {
            class: `row focus-item kind-${kind}`, dataset: { kind, id: i.id },
          },
          h('a', { class: 'row-title', href: `#/${ENTITY_PATH[i.entity_type] || 'task'}/${i.id}`, text: i.title }),
          h('span', { class: 'why', text: i.why }),
          h('span', { class: 'row-meta', text: [team && i.owner_name, i.value].filter(Boolean).join(' · ') }))))));
        }
        const other = items.filter((i) => !FOCUS_GROUPS.some(([k]) => k === i.kind));
        if (other.length) {
          parts.push(section('Other', h('ul', { class: 'rows' }, other.map((i) => h('li', { class: 'row focus-item' },
            h('span', { class: 'row-title', text: i.title }), h('span', { class: 'why', text: i.why }))))));
        }
        body.replaceChildren(...parts);
      } catch (e) {
        body.replaceChildren(errorBlock(e, load));
      }
    }
    load();
    return null;
  }

  // ---------------------------------------------------------------- search

  function viewSearch(q) {
    setNav('search');
    setTitle('Search');
    const input = h('input', { id: 'search-q', name: 'q', type: 'search', value: q || '', autocomplete: 'off', spellcheck: 'false' });
    const results = h('div', { class: 'search-results', 'aria-live': 'polite' });
    const form = h('form', {
      class: 'search-form', role: 'search',
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = input.value.trim();
        history.replaceState(null, '', v ? `#/search?q=${encodeURIComponent(v)}` : '#/search');
        run(v);
      },
    },
    h('label', { for: 'search-q', text: 'Contacts, companies and deals' }),
    h('div', { class: 'inline' }, input, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Search' })));
    mount(h('div', { class: 'narrow' }, pageHeading('Search'), form, results));

    async function run(query) {
      if (!query) { results.replaceChildren(); return; }
      results.replaceChildren(loadingBlock('Searching…'));
      try {
        const res = await runTool('search', { query, limit: 25 });
        const hits = (res.result && res.result.results) || [];
        results.replaceChildren(hits.length
          ? h('ul', { class: 'rows card' }, hits.map((x) => h('li', { class: 'row' },
            h('a', { class: 'row-title', href: `#/${ENTITY_PATH[x.type] || x.type}/${x.id}`, text: x.title }),
            h('span', { class: 'row-meta' }, h('span', { class: 'tag', text: humanize(x.type) }), x.subtitle ? ` ${x.subtitle}` : ''))))
          : h('p', { class: 'muted', text: `Nothing matches “${query}”.` }));
      } catch (e) {
        results.replaceChildren(errorBlock(e, () => run(query)));
      }
    }
    if (q) run(q);
    input.focus();
    return null;
  }

  // ---------------------------------------------------------------- routing

  const UUID = '([0-9a-fA-F-]{36})';

  function route() {
    if (current.cleanup) { current.cleanup(); current.cleanup = null; }
    const hash = location.hash || '#/chat';
    // In-page anchors (the skip link) are not routes.
    if (!hash.startsWith('#/')) return;
    if (!state.user) {
      if (!hash.startsWith('#/signin')) state.returnTo = hash;
      viewSignIn();
      return;
    }
    $('#topbar').hidden = false;
    document.body.classList.remove('fill');
    clearErrors();
    const [path, query] = hash.slice(1).split('?');
    const params = new URLSearchParams(query || '');
    let m;
    let cleanup = null;
    if (path === '/' || path === '/chat' || path === '' || path === '/signin') {
      if (path === '/signin') { history.replaceState(null, '', '#/chat'); }
      cleanup = viewChat(null);
    } else if ((m = new RegExp(`^/chat/${UUID}$`).exec(path))) {
      cleanup = viewChat(m[1]);
    } else if ((m = new RegExp(`^/(contact|company|deal)/${UUID}$`).exec(path))) {
      cleanup = viewRecord(m[1], m[2].toLowerCase());
    } else if ((m = new RegExp(`^/task/${UUID}$`).exec(path))) {
      cleanup = viewTask(m[1].toLowerCase());
    } else if (path === '/approvals') {
      cleanup = viewApprovals();
    } else if (path === '/focus' || path === '/focus/team') {
      cleanup = viewFocus(path === '/focus/team' ? 'team' : 'me');
    } else if (path === '/search') {
      cleanup = viewSearch(params.get('q') || '');
    } else {
      setNav(null);
      setTitle('Not found');
      mount(h('div', { class: 'narrow' }, pageHeading('Nothing here'),
        h('p', null, 'This address does not lead anywhere in Heimdell. ', h('a', { href: '#/chat', text: 'Go to the chat' }), '.')));
      focusView();
    }
    current.cleanup = cleanup;
    document.body.dataset.route = hash;
  }

  function init() {
    $('#sign-out').addEventListener('click', () => signOut());
    window.addEventListener('hashchange', () => route());
    $('#skip-link').addEventListener('click', (ev) => {
      ev.preventDefault();
      const target = $('#page-title') || $('#main');
      target.focus();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && state.user) approvalsBadge.refresh();
    });
    boot();
  }

  async function boot() {
    try {
      const me = await api('GET', '/session', undefined, { signedOutOk: true });
      if (!state.csrf) {
        // The session cookie is shared across tabs but the CSRF token is per tab.
        state.returnTo = location.hash || null;
        viewSignIn('Sign in to continue in this tab.');
        return;
      }
      state.user = me.user;
      state.tenant = me.tenant;
      $('#topbar').hidden = false;
      showWho();
      approvalsBadge.start();
      cardPoller.start();
      route();
    } catch (e) {
      if (e.status === 401) {
        viewSignIn();
      } else {
        mount(h('div', { class: 'narrow' }, pageHeading('Heimdell'), errorBlock(e, () => boot())));
        showError(e.message);
      }
    }
  }

  // Last resort: an error nobody caught is still said in words.
  window.addEventListener('unhandledrejection', (ev) => {
    const e = ev.reason;
    showError(e && e.message ? e.message : 'Something went wrong in the panel. Reload the page to continue.');
  });
  window.addEventListener('error', () => {
    showError('Something went wrong in the panel. Reload the page to continue.');
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
