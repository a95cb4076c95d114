// The page: loads the engine, routes between lessons, the playground and the
// server view (by the URL's hash), and runs the frame loop that moves the
// broker's clock and redraws the scene, counters and timeline.

import { CodePanel } from './code-panel.js';
import { CompareView } from './compare/compare-view.js';
import { TimeControls } from './controls.js';
import { Counters } from './counters.js';
import { h, text } from './dom.js';
import { packageModule, warrenReady } from './engine.js';
import { LESSONS } from './lessons/index.js';
import { LessonView } from './lesson-view.js';
import { LiveCode } from './live-code/editor.js';
import { legend } from './legend.js';
import { Playground } from './playground.js';
import { Scene } from './scene/scene.js';
import { decodeMoment } from './rewind.js';
import { ServerView } from './server-view.js';
import { LiveSource } from './sim/live-source.js';
import { Timeline } from './timeline.js';
import { WireLane } from './wire/lane.js';

const $ = (id) => document.getElementById(id);
const dom = {
  title: $('lesson-title'),
  text: $('lesson-text'),
  controls: $('lesson-controls'),
  see: $('see-list'),
  seeBox: document.querySelector('.see'),
  rewind: $('rewind'),
};

const controls = new TimeControls($('time-controls'));
const counters = new Counters($('counters'));
const scene = new Scene($('scene'), $('scene-summary'));
const timeline = new Timeline($('timeline'));
const code = new CodePanel($('code-panel'));
let pageWorld = null; // the World on this page (a lesson's or the playground's), for the live-code editor
const liveCode = new LiveCode($('code-panel'), { world: () => pageWorld, websocketUrl: packageModule('websocket.js') });
code.onedit = (js) => liveCode.open(js);
const wire = new WireLane($('wire'));
$('legend').replaceChildren(...legend());

let view = null; // the lesson, playground or server view shown
let live = null; // { source, feed } drawn by the frame loop
let route = '';

function buildNav() {
  const items = LESSONS.map((l) =>
    h(
      'li',
      {},
      h(
        'a',
        { href: `#lesson-${l.number}`, dataset: { route: `lesson-${l.number}` } },
        h('span', { class: 'num' }, `${l.number}`),
        h('span', { class: 'name' }, ` ${l.short}`),
      ),
    ),
  );
  items.push(
    h('li', { class: 'extra' }, h('a', { href: '#playground', dataset: { route: 'playground' } }, 'Playground')),
  );
  items.push(h('li', { class: 'extra' }, h('a', { href: '#compare', dataset: { route: 'compare' } }, 'Compare')));
  items.push(h('li', { class: 'extra' }, h('a', { href: '#server', dataset: { route: 'server' } }, 'Server')));
  $('nav').replaceChildren(...items);
}

/** Shows a live broker: a World on this page or a server's stream. */
function showLive({ source, feed, code: snippets, counters: extra = [], realTime = false }) {
  live = { source, feed };
  scene.show(source);
  counters.show(extra);
  controls.attach(feed, { realTime });
  if (snippets) code.show(snippets);
  timeline.onselect = (id) => (source.selected = id);
  scene.onselect = (id) => (source.selected = id);
  wire.show(source);
  wire.onselect = (id) => (source.selected = id);
}

function showWorld(world, snippets, extra) {
  pageWorld = world;
  const source = new LiveSource(world);
  source.name = (key) =>
    world.channels.get(key)?.label ?? (key.startsWith(`${world.adminConnection?.id}:`) ? 'the page' : `channel ${key}`);
  Object.defineProperty(source, 'selected', {
    get: () => world.selected,
    set: (v) => {
      world.selected = v;
    },
  });
  showLive({ source, feed: world, code: snippets, counters: extra });
  // For scripts and tests that hold the page to its promise: the live world and its engine.
  window.warrenPage = { world, snapshot: () => world.snapshot() };
}

async function go(warren) {
  const hash = location.hash.slice(1);
  const name = hash.startsWith('playground')
    ? 'playground'
    : /^compare(-[a-z]+)?$/.test(hash)
      ? hash
      : hash === 'server'
        ? 'server'
        : /^lesson-\d(~|$)/.test(hash)
          ? hash.slice(0, 8)
          : 'lesson-1';
  // A link to a moment of a lesson: "lesson-N~" and the moment, encoded.
  const moment = name.startsWith('lesson') && hash.length > 9 ? decodeMoment(hash.slice(9)) : null;
  // The playground keeps its state in the hash: editing it is not a new route.
  if (name === route) {
    if (name === 'playground') view.fromHash?.(hash);
    else if (moment) {
      document.documentElement.dataset.ready = 'false';
      view.dispose();
      view = new LessonView(LESSONS[Number(name.slice(7)) - 1], view.deps, moment);
      await view.mount();
      document.documentElement.dataset.ready = 'true';
    }
    return;
  }
  route = name;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route !== name.replace(/^compare-.*/, 'compare')) {
      a.removeAttribute('aria-current');
      continue;
    }
    a.setAttribute('aria-current', 'page');
    // On a narrow screen the list scrolls sideways: bring the current item into view.
    const list = a.closest('ol');
    list.scrollLeft = a.parentElement.offsetLeft - (list.clientWidth - a.offsetWidth) / 2;
  }
  view?.dispose();
  live = null;
  pageWorld = null;
  document.documentElement.dataset.ready = 'false';
  document.body.dataset.view = name.startsWith('lesson') ? 'lesson' : name.replace(/^compare-.*/, 'compare');
  dom.seeBox.hidden = !name.startsWith('lesson');
  const deps = {
    warren,
    dom,
    onworld: showWorld,
    onlive: showLive,
    oncode: (c) => code.show(c),
    pause: () => controls.setPaused(true),
    // Compare: two worlds in step, drawn by the view itself.
    onfeed: (feed) => {
      live = null;
      controls.attach(feed);
    },
  };
  if (name === 'playground') view = new Playground(deps, hash);
  else if (name === 'server') view = new ServerView(deps);
  else if (name.startsWith('compare')) view = new CompareView(deps, name);
  else view = new LessonView(LESSONS[Number(name.slice(7)) - 1], deps, moment);
  await view.mount();
  document.documentElement.dataset.ready = 'true';
}

function loop() {
  let last = performance.now();
  const frame = async (now) => {
    // Asked first, so one failing frame does not stop the page.
    requestAnimationFrame(frame);
    const dt = now - last;
    last = now;
    await controls.frame(dt);
    if (live) {
      scene.render(now);
      counters.update(live.source.model.counters);
      timeline.render(live.source, now);
    }
    view?.render?.(now);
    liveCode.render();
  };
  requestAnimationFrame(frame);
}

async function main() {
  buildNav();
  let warren;
  try {
    warren = await warrenReady;
  } catch (e) {
    text(dom.title, 'The broker could not be loaded');
    dom.text.replaceChildren(
      h('p', { class: 'error' }, `${e.message}. Build it with "npm run build", then serve the page with "npm start".`),
    );
    throw e;
  }
  window.addEventListener('hashchange', async () => {
    const before = route;
    await go(warren);
    // Navigated to another lesson or view: the keyboard goes on from its heading.
    if (route !== before) dom.title.focus({ preventScroll: false });
  });
  await go(warren);
  loop();
  if ('serviceWorker' in navigator && location.protocol.startsWith('http')) {
    // Works offline once loaded; see sw.js.
    navigator.serviceWorker.register('sw.js').catch(() => {});
  }
}

main();
