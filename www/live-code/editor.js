// "Edit and run": the lesson's amqp-client.js program in a plain textarea
// with line numbers, run in a Web Worker against the broker in this tab.
// Run starts a fresh worker; Stop terminates it, and the broker sees its
// connection drop (unacked messages go back to the queue).

import { h, text } from '../dom.js';
import { Bridge } from './bridge.js';
import { ProgramActor, runnable } from './program.js';

const MAX_LINES = 200; // output kept

export class LiveCode {
  /** world(): the page's live World, or null (the server view). websocketUrl: warren-mq's js/websocket.js. */
  constructor(el, { world, websocketUrl }) {
    this.world = world;
    this.websocketUrl = websocketUrl;
    this.run = null; // { worker, bridge, actor, world }
    this.source = h('textarea', {
      id: 'live-code-source',
      spellcheck: 'false',
      autocapitalize: 'off',
      'aria-label': 'Your program (amqp-client.js)',
      oninput: () => this.#numbers(),
      onscroll: () => (this.gutter.scrollTop = this.source.scrollTop),
      onkeydown: (e) => this.#keys(e),
    });
    this.gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
    this.runButton = h('button', { type: 'button', dataset: { live: 'run' }, onclick: () => this.start() }, 'Run');
    this.stopButton = h(
      'button',
      { type: 'button', class: 'danger', dataset: { live: 'stop' }, disabled: true, onclick: () => this.stop() },
      'Stop',
    );
    this.state = h('span', { class: 'live-state', role: 'status' });
    this.output = h('ol', { class: 'live-output', role: 'log', 'aria-label': 'Program output' });
    this.el = h(
      'section',
      { class: 'live-code', 'aria-label': 'Edit and run', hidden: true },
      h(
        'p',
        { class: 'hint' },
        'Your program runs in a worker, against the broker drawn above: what it does shows in the scene. ',
        'print(...) writes below; Stop ends it as a crash would.',
      ),
      h('div', { class: 'editor' }, this.gutter, this.source),
      h('div', { class: 'row' }, this.runButton, this.stopButton, this.state),
      this.output,
    );
    el.append(this.el);
  }

  /** Shows the editor with `js` (the lesson's program). */
  open(js) {
    this.el.hidden = false;
    // The same program as last time: the reader's edits stay; another lesson's (or setting's) replaces them.
    if (js !== this.loaded) {
      this.loaded = js;
      this.source.value = runnable(js);
    }
    this.#numbers();
    this.source.focus();
  }

  #numbers() {
    const n = this.source.value.split('\n').length;
    if (this.lines === n) return;
    this.lines = n;
    text(this.gutter, Array.from({ length: n }, (_, i) => i + 1).join('\n'));
  }

  /** Tab indents in the editor; Escape leaves it, so the keyboard is never trapped. */
  #keys(e) {
    if (e.key === 'Escape') {
      this.runButton.focus();
      return;
    }
    if (e.key !== 'Tab' || e.shiftKey) return;
    e.preventDefault();
    this.source.setRangeText('  ', this.source.selectionStart, this.source.selectionEnd, 'end');
    this.#numbers();
  }

  #say(kind, line) {
    const li = h('li', { dataset: { kind } }, line);
    this.output.append(li);
    while (this.output.childElementCount > MAX_LINES) this.output.firstElementChild.remove();
    this.output.scrollTop = this.output.scrollHeight;
  }

  #status(words) {
    text(this.state, words);
    this.runButton.disabled = Boolean(this.run);
    this.stopButton.disabled = !this.run;
  }

  start() {
    const world = this.world();
    if (!world?.broker) {
      this.#say('error', 'There is no broker in this tab here: open a lesson or the playground.');
      return;
    }
    this.stop();
    this.output.replaceChildren();
    const { port1, port2 } = new MessageChannel();
    const actor = new ProgramActor(world);
    const bridge = new Bridge(world.broker, port1, { name: actor.label, wire: world.wire });
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'your program' });
    const run = { worker, bridge, actor, world };
    this.run = run;
    actor.stopped = () => this.#end(run, 'stopped');
    // The last run's box gives way to this one's.
    world.actors = world.actors.filter((a) => !(a instanceof ProgramActor));
    world.add(actor);
    worker.onmessage = ({ data }) => {
      if (this.run !== run) return;
      if (data.kind === 'started') this.#status('running');
      else if (data.kind === 'done') this.#say('done', 'The program reached its end (its consumers go on).');
      else if (data.kind === 'error') {
        actor.lastError = data.text;
        this.#say('error', data.text);
      } else this.#say('log', data.text);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.#say('error', e.message || 'the worker failed to start');
    };
    worker.postMessage({ code: this.source.value, port: port2, websocketUrl: this.websocketUrl }, [port2]);
    this.#status('starting…');
  }

  /** Ends the program: the worker is terminated and its connections dropped. */
  stop() {
    if (this.run) this.#end(this.run, 'stopped');
  }

  #end(run, why) {
    if (this.run !== run) return;
    this.run = null;
    run.worker.terminate();
    run.bridge.close();
    run.actor.status = 'stopped';
    run.world.onchange?.();
    this.#say('stopped', `Stopped: the broker saw the connection close.`);
    this.#status(why);
  }

  /** Called every frame: the program's consumer as the broker reports it. */
  render() {
    this.run?.actor.refresh();
  }
}
