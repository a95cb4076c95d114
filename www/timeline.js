// The selected message's life, from publish to its end, one line per event.

import { h } from './dom.js';
import { channelKey } from './sim/keys.js';
import { exchangeLabel } from './scene/topology.js';

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

/** One event in words; `who(channel)` names the client on a channel. */
export function describe(e, who, origin = 0) {
  const to = (ref) => (ref ? who(channelKey(ref.conn, ref.channel)) : 'a client');
  switch (e.type) {
    case 'published':
      return `published to ${exchangeLabel(e.exchange)} with routing key "${e.routingKey}"${e.persistent ? ', persistent' : ''}${e.confirmSeq != null ? `, confirm sequence number ${e.confirmSeq}` : ''}`;
    case 'routed':
      return e.queues.length ? `routed to ${e.queues.join(', ')}` : 'unroutable: no queue is bound for it';
    case 'returned':
      return 'returned to the publisher (mandatory, unroutable)';
    case 'refused':
      return `refused by ${e.queue}: the queue is full (reject-publish)`;
    case 'enqueued':
      return `enqueued in ${e.queue}`;
    case 'delivered':
      return `delivered from ${e.queue} to ${to(e.to)}, delivery tag ${e.deliveryTag}${e.redelivered ? `, redelivered (delivery ${e.deliveryCount + 1})` : ''}${e.autoAck ? ', automatic ack: the broker forgets it now' : ''}`;
    case 'acked':
      return `acked: ${e.queue} forgets it`;
    case 'nacked':
      return `nacked${e.requeue ? ' with requeue' : ' without requeue'}`;
    case 'rejected':
      return `rejected${e.requeue ? ' with requeue' : ' without requeue'}`;
    case 'requeued':
      return `back in ${e.queue}${e.delayMs ? ` after ${seconds(e.delayMs)}` : ''}, marked redelivered`;
    case 'dead-lettered':
      return `dead-lettered from ${e.queue} (${e.reason}) to exchange ${exchangeLabel(e.exchange)}`;
    case 'expired':
      return `expired in ${e.queue}`;
    case 'dropped':
      return `dropped from ${e.queue} (${e.reason})`;
    case 'confirmed':
      return e.ack
        ? `confirmed to the publisher (sequence number ${e.seq})`
        : `nacked to the publisher (sequence number ${e.seq})`;
    case 'processing':
      return `${e.consumer} starts processing it (done at ${seconds(e.until - origin)})`;
    case 'processed':
      return `${e.consumer} finished processing it`;
    case 'crashed':
      return `${e.consumer} crashed while holding it: its connection is gone`;
    case 'lost':
      return `lost: ${e.consumer} crashed before finishing, and the broker had already forgotten it`;
    case 'recovered':
      return `recovered into ${e.queue} from the store after the restart`;
    case 'note':
      return e.text;
    default:
      return e.type;
  }
}

export class Timeline {
  constructor(el) {
    this.el = el;
    this.select = h('select', {
      id: 'timeline-message',
      onchange: () => this.onselect?.(this.select.value === '' ? null : Number(this.select.value)),
    });
    this.list = h('ol', { class: 'events' });
    this.empty = h('p', { class: 'hint' }, 'Publish a message, or click a token in the scene, to follow it here.');
    el.replaceChildren(
      h(
        'div',
        { class: 'panel-head' },
        h('h3', { id: 'timeline-title' }, 'Timeline'),
        h('label', { for: 'timeline-message' }, 'Message '),
        this.select,
      ),
      this.empty,
      this.list,
    );
    this.shown = null;
    this.count = -1;
    this.options = '';
    this.lastOptions = 0;
    this.drawnAt = 0;
    this.onselect = null;
  }

  /** source: { model, selected, name(channelKey) } */
  render(source, now = performance.now()) {
    const { model } = source;
    let id = source.selected;
    if (id === null || !model.messages.has(id)) id = latest(model);
    const m = id === null ? null : model.messages.get(id);
    if (now - this.lastOptions > 500) {
      this.lastOptions = now;
      this.#options(model, source.selected, id);
    }
    const count = m ? m.events.length : 0;
    if (id === this.shown && count === this.count) return;
    // Following the latest message at a high rate: a few redraws a second are plenty.
    if (id !== this.shown && source.selected === null && now - this.drawnAt < 200) return;
    this.drawnAt = now;
    this.shown = id;
    this.count = count;
    this.empty.hidden = Boolean(m);
    if (!m) return this.list.replaceChildren();
    const who = (key) => source.name(key);
    const origin = source.origin?.() ?? 0;
    this.list.replaceChildren(
      ...m.events
        .slice(-40)
        .map((e) =>
          h('li', { dataset: { type: e.type } }, h('time', {}, seconds(e.at - origin)), ' ', describe(e, who, origin)),
        ),
    );
    // Keep the end in view; a write only (reading scrollHeight would force a layout).
    if (m.events.length > 8) this.list.scrollTop = 1e6;
  }

  #options(model, selected, shown) {
    const ids = [...model.messages.keys()].slice(-30).reverse();
    const key = `${selected}|${shown}|${ids.join(',')}`;
    if (key === this.options) return;
    this.options = key;
    const opts = [h('option', { value: '' }, shown === null ? 'latest' : `latest (${shown})`)];
    for (const id of ids) opts.push(h('option', { value: id, selected: id === selected }, `message ${id}`));
    this.select.replaceChildren(...opts);
  }
}

function latest(model) {
  const e = model.lastEvent;
  if (e && e.msg != null && model.messages.has(e.msg)) return e.msg;
  let last = null;
  for (const id of model.messages.keys()) last = id;
  return last;
}
