// The operator's console of the server view: a login, then the broker's
// queues, exchanges, bindings, connections, channels and consumers as tables
// with live rates and small charts, read from the management API once a
// second; get, publish, purge, delete, close a connection, and redrive a
// dead-letter queue at a chosen rate. Every action is a call to the same
// RabbitMQ-shaped API a script would make, as the logged-in user.

import { h, text } from './dom.js';

const POLL_MS = 1000;
const HISTORY = 60; // samples kept for the charts
const COOKIE = 'warren_auth';

const enc = encodeURIComponent;

export function loggedIn() {
  return document.cookie.split(';').some((c) => c.trim().startsWith(`${COOKIE}=`));
}

export function logout() {
  document.cookie = `${COOKIE}=; path=/; max-age=0; SameSite=Strict`;
}

/** Calls the API as the logged-in user: resolves with { status, body }. */
export async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(`api/${path}`, {
    method,
    headers: {
      accept: 'application/json',
      'x-warren-console': '1',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const t = await res.text();
  return { status: res.status, body: t ? JSON.parse(t) : null };
}

/** A login form; resolves once a user with a management tag has logged in. */
export function loginForm(container) {
  return new Promise((resolve) => {
    const user = h('input', { name: 'username', autocomplete: 'username', required: true });
    const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password' });
    const status = h('p', { class: 'console-status', role: 'status' });
    const form = h(
      'form',
      { class: 'console-login', 'aria-label': 'Log in to the broker' },
      h('p', {}, 'Log in with a user of this broker that has a management tag.'),
      h('label', {}, 'User ', user),
      h('label', {}, 'Password ', pass),
      h('button', { type: 'submit' }, 'Log in'),
      status,
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const token = btoa(unescape(encodeURIComponent(`${user.value}:${pass.value}`)));
      document.cookie = `${COOKIE}=${enc(token)}; path=/; SameSite=Strict`;
      const r = await api('whoami').catch(() => ({ status: 0 }));
      if (r.status === 404 || r.status === 0) {
        logout();
        text(status, 'This copy of the page is not served by warren-mq serve: there is no broker to log in to.');
        return;
      }
      if (r.status === 200) {
        form.remove();
        resolve(r.body);
      } else {
        logout();
        text(status, r.body?.reason === 'Not management user' ? 'That user has no management tag.' : 'Login failed.');
      }
    });
    container.replaceChildren(form);
  });
}

/** A sparkline of `values` (numbers) as a small SVG polyline. */
function spark(values, { w = 90, hgt = 18, label } = {}) {
  const max = Math.max(1, ...values);
  const pts = values
    .map((v, i) => `${(i / Math.max(1, HISTORY - 1)) * w},${hgt - (v / max) * (hgt - 2) - 1}`)
    .join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('width', w);
  svg.setAttribute('height', hgt);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  if (label) svg.setAttribute('aria-label', label);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', pts);
  svg.append(line);
  return svg;
}

function table(caption, head, rows) {
  return h(
    'table',
    { class: 'console-table' },
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        head.map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: head.length }, 'none'))),
  );
}

const rate = (n) => (n >= 10 ? Math.round(n) : Math.round(n * 10) / 10).toString();

export class Console {
  constructor(container, whoami, { onLogout } = {}) {
    this.container = container;
    this.whoami = whoami;
    this.onLogout = onLogout;
    this.history = new Map(); // queue key -> { depth: [], in, out }
    this.totals = { in: [], out: [] };
    this.status = h('p', { class: 'console-status', role: 'status' });
    this.tables = h('div', { class: 'console-tables' });
    this.panel = h('div', { class: 'console-panel', 'aria-live': 'polite' });
    this.chart = h('div', { class: 'console-chart' });
    container.replaceChildren(
      h(
        'div',
        { class: 'console-head' },
        h('h3', {}, 'Console'),
        h('span', {}, `${whoami.name} (${whoami.tags.join(', ') || 'no tags'})`),
        h('button', { type: 'button', dataset: { act: 'logout' }, onclick: () => this.#logout() }, 'Log out'),
      ),
      this.chart,
      this.status,
      this.panel,
      this.tables,
    );
    this.poll = this.poll.bind(this);
    this.poll();
    this.timer = setInterval(this.poll, POLL_MS);
  }

  dispose() {
    clearInterval(this.timer);
  }

  #logout() {
    this.dispose();
    logout();
    this.container.replaceChildren();
    this.onLogout?.();
  }

  async poll() {
    let data;
    try {
      const names = ['queues', 'exchanges', 'bindings', 'connections', 'channels', 'consumers', 'redrives'];
      const answers = await Promise.all(names.map((n) => api(n)));
      if (answers.some((a) => a.status === 401)) return this.#logout();
      data = Object.fromEntries(names.map((n, i) => [n, answers[i].body]));
    } catch (e) {
      text(this.status, `Cannot read the management API: ${e.message}`);
      return;
    }
    this.#sample(data.queues);
    this.#render(data);
  }

  // Rates are the server's (`*_details.rate`, sampled as RabbitMQ does).
  #sample(queues) {
    let totalIn = 0;
    let totalOut = 0;
    const seen = new Set();
    for (const q of queues) {
      const key = `${q.vhost}\u0000${q.name}`;
      seen.add(key);
      const s = q.message_stats ?? {};
      const hst = this.history.get(key) ?? { depth: [], in: 0, out: 0 };
      hst.in = Math.max(0, s.publish_details?.rate ?? 0);
      hst.out = Math.max(0, s.deliver_get_details?.rate ?? 0);
      hst.depth = [...hst.depth, q.messages].slice(-HISTORY);
      this.history.set(key, hst);
      totalIn += hst.in;
      totalOut += hst.out;
    }
    for (const k of this.history.keys()) if (!seen.has(k)) this.history.delete(k);
    this.totals.in = [...this.totals.in, totalIn].slice(-HISTORY);
    this.totals.out = [...this.totals.out, totalOut].slice(-HISTORY);
  }

  #act(label, act, onclick, extra = {}) {
    return h('button', { type: 'button', dataset: { act, ...extra }, onclick }, label);
  }

  async #do(what, call) {
    const r = await call();
    text(this.status, r.status < 300 ? `${what}: done` : `${what}: ${r.status} ${r.body?.reason ?? ''}`);
    this.poll();
    return r;
  }

  #render(d) {
    text(this.status, this.status.textContent || 'Live: every second.');
    this.chart.replaceChildren(
      h('span', {}, `in ${rate(this.totals.in.at(-1) ?? 0)}/s `),
      spark(this.totals.in, { w: 180, hgt: 28, label: 'messages published per second' }),
      h('span', {}, ` out ${rate(this.totals.out.at(-1) ?? 0)}/s `),
      spark(this.totals.out, { w: 180, hgt: 28, label: 'messages delivered per second' }),
    );
    const qPath = (q) => `queues/${enc(q.vhost)}/${enc(q.name)}`;
    const queues = d.queues.map((q) => {
      const hst = this.history.get(`${q.vhost}\u0000${q.name}`);
      return h(
        'tr',
        { dataset: { queue: q.name } },
        h('td', {}, q.name),
        h('td', {}, q.vhost),
        h('td', { dataset: { col: 'ready' } }, String(q.messages_ready)),
        h('td', {}, String(q.messages_unacknowledged)),
        h('td', {}, String(q.consumers)),
        h('td', {}, `${rate(hst?.in ?? 0)}/s`),
        h('td', {}, `${rate(hst?.out ?? 0)}/s`),
        h('td', {}, spark(hst?.depth ?? [], { label: `depth of ${q.name}` })),
        h(
          'td',
          {},
          this.#act('Get', 'get', () => this.#get(q, qPath(q))),
          this.#act('Purge', 'purge', () =>
            this.#do(`purge ${q.name}`, () => api(`${qPath(q)}/contents`, { method: 'DELETE' })),
          ),
          this.#act('Delete', 'delete', () => this.#do(`delete ${q.name}`, () => api(qPath(q), { method: 'DELETE' }))),
          this.#act('Redrive…', 'redrive', () => this.#redriveForm(q, qPath(q))),
        ),
      );
    });
    const exchanges = d.exchanges.map((x) =>
      h(
        'tr',
        { dataset: { exchange: x.name || 'amq.default' } },
        h('td', {}, x.name || '(default)'),
        h('td', {}, x.vhost),
        h('td', {}, x.type),
        h('td', {}, x.durable ? 'yes' : 'no'),
        h(
          'td',
          {},
          this.#act('Publish…', 'publish', () => this.#publishForm(x)),
          x.name && !x.name.startsWith('amq.')
            ? this.#act('Delete', 'delete', () =>
                this.#do(`delete ${x.name}`, () =>
                  api(`exchanges/${enc(x.vhost)}/${enc(x.name)}`, { method: 'DELETE' }),
                ),
              )
            : null,
        ),
      ),
    );
    const bindings = d.bindings.map((b) =>
      h('tr', {}, h('td', {}, b.source || '(default)'), h('td', {}, b.destination), h('td', {}, b.routing_key)),
    );
    const connections = d.connections.map((c) =>
      h(
        'tr',
        { dataset: { connection: c.name } },
        h('td', {}, c.name),
        h('td', {}, c.user ?? ''),
        h('td', {}, c.vhost ?? ''),
        h('td', {}, c.protocol),
        h('td', {}, String(c.channels ?? 0)),
        h('td', {}, c.state),
        h(
          'td',
          {},
          this.#act('Close', 'close', () =>
            this.#do(`close ${c.name}`, () => api(`connections/${enc(c.name)}`, { method: 'DELETE' })),
          ),
        ),
      ),
    );
    const channels = d.channels.map((c) =>
      h(
        'tr',
        {},
        h('td', {}, c.name),
        h('td', {}, String(c.prefetch_count)),
        h('td', {}, c.confirm ? 'confirm' : c.transactional ? 'tx' : ''),
        h('td', {}, String(c.messages_unacknowledged)),
      ),
    );
    const consumers = d.consumers.map((c) =>
      h(
        'tr',
        {},
        h('td', {}, c.consumer_tag),
        h('td', {}, c.queue.name),
        h('td', {}, c.ack_required ? 'manual' : 'auto'),
        h('td', {}, String(c.prefetch_count)),
        h('td', {}, String(c.messages_unacknowledged)),
      ),
    );
    const redrives = d.redrives.map((r) =>
      h(
        'tr',
        { dataset: { redrive: r.id, state: r.state } },
        h(
          'td',
          {},
          `${r.queue} → ${r.destination.original ? 'original queues' : r.destination.exchange || '(default)'}`,
        ),
        h('td', {}, `${r.rate}/s`),
        h('td', { dataset: { col: 'moved' } }, String(r.moved)),
        h('td', {}, r.error ? `${r.state}: ${r.error}` : r.state),
        h(
          'td',
          {},
          r.state === 'running'
            ? this.#act('Stop', 'stop', () =>
                this.#do('stop redrive', () => api(`redrives/${r.id}`, { method: 'DELETE' })),
              )
            : null,
        ),
      ),
    );
    this.tables.replaceChildren(
      table('Queues', ['Name', 'Vhost', 'Ready', 'Unacked', 'Consumers', 'In', 'Out', 'Depth', ''], queues),
      table('Redrives', ['Queue', 'Rate', 'Moved', 'State', ''], redrives),
      table('Exchanges', ['Name', 'Vhost', 'Type', 'Durable', ''], exchanges),
      table('Bindings', ['Source', 'Destination', 'Routing key'], bindings),
      table('Connections', ['Name', 'User', 'Vhost', 'Protocol', 'Channels', 'State', ''], connections),
      table('Channels', ['Channel', 'Prefetch', 'Mode', 'Unacked'], channels),
      table('Consumers', ['Tag', 'Queue', 'Ack', 'Prefetch', 'Unacked'], consumers),
    );
  }

  async #get(q, path) {
    const r = await api(`${path}/get`, {
      method: 'POST',
      body: { count: 10, ackmode: 'ack_requeue_true', encoding: 'auto' },
    });
    if (r.status !== 200) return text(this.status, `get ${q.name}: ${r.status} ${r.body?.reason ?? ''}`);
    this.panel.replaceChildren(
      h('h4', {}, `${r.body.length} message(s) from ${q.name} (requeued)`),
      ...r.body.map((m) =>
        h(
          'pre',
          { class: 'console-message' },
          `${m.routing_key}${m.redelivered ? ' (redelivered)' : ''}\n${JSON.stringify(m.properties)}\n${m.payload}`,
        ),
      ),
    );
  }

  #publishForm(x) {
    const key = h('input', { name: 'routing_key', 'aria-label': 'Routing key' });
    const body = h('textarea', { name: 'payload', rows: 3, 'aria-label': 'Payload' });
    const form = h(
      'form',
      { class: 'console-form', 'aria-label': `Publish to ${x.name || '(default)'}` },
      h('h4', {}, `Publish to ${x.name || '(default)'}`),
      h('label', {}, 'Routing key ', key),
      h('label', {}, 'Payload ', body),
      h('button', { type: 'submit' }, 'Publish'),
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = await this.#do(`publish to ${x.name || '(default)'}`, () =>
        api(`exchanges/${enc(x.vhost)}/${enc(x.name || 'amq.default')}/publish`, {
          method: 'POST',
          body: { routing_key: key.value, payload: body.value, payload_encoding: 'string', properties: {} },
        }),
      );
      if (r.status === 200)
        text(this.status, r.body.routed ? 'Published: routed.' : 'Published: not routed to any queue.');
    });
    this.panel.replaceChildren(form);
  }

  #redriveForm(q, path) {
    const speed = h('input', {
      name: 'rate',
      type: 'number',
      min: '0.1',
      step: 'any',
      value: '10',
      'aria-label': 'Messages per second',
    });
    const to = h(
      'select',
      { name: 'destination', 'aria-label': 'Destination' },
      h('option', { value: 'original' }, 'the queue each message died in'),
      h('option', { value: 'exchange' }, 'an exchange'),
    );
    const exchange = h('input', { name: 'exchange', 'aria-label': 'Exchange' });
    const key = h('input', { name: 'routing_key', 'aria-label': 'Routing key (empty: the message’s own)' });
    const form = h(
      'form',
      { class: 'console-form', 'aria-label': `Redrive ${q.name}` },
      h('h4', {}, `Redrive ${q.name} (${q.messages_ready} ready)`),
      h('label', {}, 'Messages per second ', speed),
      h('label', {}, 'To ', to),
      h('label', {}, 'Exchange ', exchange),
      h('label', {}, 'Routing key ', key),
      h('button', { type: 'submit' }, 'Start'),
    );
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { rate: Number(speed.value) };
      if (to.value === 'exchange') {
        body.exchange = exchange.value === 'amq.default' ? '' : exchange.value;
        if (key.value) body.routing_key = key.value;
      }
      await this.#do(`redrive ${q.name}`, () => api(`${path}/redrive`, { method: 'POST', body }));
      this.panel.replaceChildren();
    });
    this.panel.replaceChildren(form);
  }
}
