// Time controls and the frame loop. The page owns the broker's clock (a
// ManualClock): every animation frame moves it forward by the real time
// elapsed times the speed, so pausing here pauses the broker too.

import { h, text } from './dom.js';

const MAX_FRAME_MS = 100; // a hidden tab does not come back to a huge jump
const toSpeed = (v) => Number((10 ** v).toFixed(v < 0 ? 2 : 1));

export class TimeControls {
  constructor(el) {
    this.el = el;
    this.paused = false;
    this.speed = 1;
    this.feed = null; // { advance(ms), applyAll(), step(), waiting, now() }
    this.playButton = h(
      'button',
      { type: 'button', class: 'play', 'aria-pressed': 'false', onclick: () => this.setPaused(!this.paused) },
      'Pause',
    );
    this.stepButton = h('button', { type: 'button', class: 'step', onclick: () => this.step() }, 'Step one event');
    this.range = h('input', {
      id: 'speed',
      type: 'range',
      min: '-1',
      max: '1',
      step: '0.05',
      value: '0',
      'aria-valuetext': '1×',
      oninput: () => this.setSpeed(toSpeed(Number(this.range.value))),
    });
    this.speedOut = h('output', { for: 'speed', class: 'speed-out' }, '1×');
    // The time is rewritten every frame: in a fixed box of its own (see style.css).
    this.clockOut = h('span', { class: 'clock-n' }, 't = 0.00 s');
    this.waitingOut = h('span', { class: 'waiting', role: 'status' }, '');
    el.replaceChildren(
      this.playButton,
      this.stepButton,
      h('label', { for: 'speed', class: 'speed-label' }, 'Speed'),
      this.range,
      this.speedOut,
      h('span', { class: 'clock', 'aria-label': 'broker time' }, this.clockOut),
      this.waitingOut,
    );
  }

  /** What the controls drive; `realTime`: a server's stream, whose clock is not ours. */
  attach(feed, { realTime = false } = {}) {
    this.feed = feed;
    this.range.disabled = realTime;
    this.el.classList.toggle('real-time', realTime);
  }

  setPaused(paused) {
    this.paused = paused;
    text(this.playButton, paused ? 'Play' : 'Pause');
    this.playButton.setAttribute('aria-pressed', String(paused));
    this.el.classList.toggle('paused', paused);
  }

  setSpeed(speed) {
    this.speed = Math.min(10, Math.max(0.1, speed));
    const label = `${this.speed}×`;
    text(this.speedOut, label);
    this.range.setAttribute('aria-valuetext', label);
    const v = Math.log10(this.speed).toFixed(2);
    if (this.range.value !== v) this.range.value = v;
  }

  /** Pauses, then shows the next event (moving time to it if none is waiting). */
  async step() {
    this.setPaused(true);
    if (!this.feed) return;
    const e = await this.feed.step();
    if (!e) text(this.waitingOut, 'nothing scheduled');
  }

  /** One animation frame: move time, apply events. */
  async frame(realMs) {
    const feed = this.feed;
    if (!feed) return;
    if (!this.paused && !this.moving) {
      // One advance at a time: time moves timer by timer and may take more than a frame's turn.
      this.moving = true;
      try {
        await feed.advance(Math.min(realMs, MAX_FRAME_MS) * this.speed);
      } finally {
        this.moving = false;
      }
      // Paused meanwhile (a click between two timers): what happened waits for "step".
      if (!this.paused && feed === this.feed) feed.applyAll();
    }
    text(this.clockOut, `t = ${(feed.now() / 1000).toFixed(2)} s`);
    const w = feed.waiting;
    if (this.paused || w)
      text(this.waitingOut, this.paused ? (w ? `paused · ${w} event${w === 1 ? '' : 's'} waiting` : 'paused') : '');
    else text(this.waitingOut, '');
  }
}
