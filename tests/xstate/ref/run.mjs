// The reference side of tests/xstate: runs machines in XState itself (v4 and v5, the exact
// versions pinned in v4/package.json and v5/package.json) and prints what XState does.
//
// Protocol: one JSON request a line on stdin, one JSON answer a line on stdout, in order.
//   {"hello": true}  ->  {"versions": {"v4": "4.38.3", "v5": "5.x.y"}, "node": "v20..."}
//   a case: {"machine": <config>, "version": "v4" | "v5", "events": [...], "context": {...}?,
//            "clock": "step" | "xstate"?}
//     events: {"type": "E", ...payload}       sent to the machine as it is
//             {"advance": ms}                 the clock moves ms milliseconds on
//             {"type": "$resolve", "id": I, "data": D}   the invoked service I answers D
//             {"type": "$reject", "id": I, "data": D}    the invoked service I fails with D
//   ->  {"trace": [step, ...], "error": null | {"step": k, "message": "...", "kind": K},
//        "warnings": [...]}
//     step k (0 = right after start, k = after events[k-1]):
//       {"event", "value", "context", "done", "output", "configuration", "tags", "meta"}
//     configuration: every active state node id, the root included, sorted; tags sorted;
//     meta: {node id: meta} of the active nodes that have one; "illegal": why, on a step whose
//     configuration XState should never have reached (see illegalConfiguration). An error ends
//     the case's trace at the step it happened in (the batch goes on): kind "error" for a
//     machine XState refuses, an action or guard that throws, v5's error status; kind
//     "stack-overflow" when XState's own recursion overflows, "timer-storm" when timers fire
//     without end (MAX_FIRED).
//
// Time: "step" (the default) is a clock of our own with real-time semantics: advancing fires
// every timer due within the interval in due order (ties in the order they were armed), a
// timer armed by a firing one counting from the firing instant, a cancelled timer never
// firing. "xstate" uses the library's own SimulatedClock (increment(ms)), kept to show how it
// differs (tests/xstate/README.md).
//
// Invoked services: every `src` a machine names is a service whose promise this harness holds;
// $resolve / $reject settle the one currently running under that invoke id (a no-op when none
// runs: XState drops the answer of a service whose state was left).

import { createRequire } from 'node:module';
import readline from 'node:readline';
import { actions as libActions, guards as libGuards } from './library.mjs';

const require = createRequire(import.meta.url);
const X = {
  v4: require('./v4/node_modules/xstate'),
  v5: require('./v5/node_modules/xstate'),
};
const SimulatedClock4 = require('./v4/node_modules/xstate/lib/SimulatedClock.js').SimulatedClock;
const VERSIONS = {
  v4: require('./v4/node_modules/xstate/package.json').version,
  v5: require('./v5/node_modules/xstate/package.json').version,
};

// --- warnings: XState's console output, collected per case ------------------------------------
let warnings = [];
const say = (...args) => warnings.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
console.warn = say;
console.error = say;
console.log = say;
process.on('uncaughtException', (e) => say('uncaught:', e && e.message));
process.on('unhandledRejection', (e) => say('unhandled rejection:', e && e.message ? e.message : JSON.stringify(e)));

// --- the clock ---------------------------------------------------------------------------------
// XState v4 in an illegal configuration can arm timers faster than they fire (each firing arms
// several, none cancelled): past this many fired in one advance, or this many armed at once,
// the case ends, kind "timer-storm" (a machine of the corpus or the generator arms a few dozen).
const MAX_FIRED = 2000;
const MAX_ARMED = 500;

class StepClock {
  constructor() {
    this._now = 0;
    this._seq = 0;
    this.timers = new Map(); // id -> {due, fn}: the armed ones
    this.heap = []; // [due, id], smallest first; cleared ids are skipped when they surface
  }
  now() {
    return this._now;
  }
  setTimeout(fn, ms) {
    if (this.timers.size >= MAX_ARMED) {
      const e = new Error(`timer storm: more than ${MAX_ARMED} timers armed at once`);
      e.kind = 'timer-storm';
      throw e;
    }
    const id = ++this._seq;
    const delay = typeof ms === 'number' && ms > 0 ? ms : 0;
    this.timers.set(id, { due: this._now + delay, fn });
    heapPush(this.heap, [this._now + delay, id]);
    return id;
  }
  clearTimeout(id) {
    this.timers.delete(id);
  }
  advance(ms) {
    const end = this._now + ms;
    for (let fired = 0; ; fired++) {
      while (this.heap.length && !this.timers.has(this.heap[0][1])) heapPop(this.heap);
      if (!this.heap.length || this.heap[0][0] > end) break;
      if (fired >= MAX_FIRED) {
        const e = new Error(`timer storm: more than ${MAX_FIRED} timers fired in one advance, ${this.timers.size} armed`);
        e.kind = 'timer-storm';
        throw e;
      }
      const [due, id] = heapPop(this.heap);
      const timer = this.timers.get(id);
      this.timers.delete(id);
      this._now = due;
      timer.fn();
    }
    this._now = end;
  }
}

// a binary heap of [due, id] pairs: earliest due first, then the earliest armed
const before = (a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
function heapPush(h, item) {
  h.push(item);
  for (let i = h.length - 1; i > 0; ) {
    const p = (i - 1) >> 1;
    if (!before(h[i], h[p])) break;
    [h[i], h[p]] = [h[p], h[i]];
    i = p;
  }
}
function heapPop(h) {
  const top = h[0];
  const last = h.pop();
  if (h.length) {
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l], h[m])) m = l;
      if (r < h.length && before(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
  return top;
}

function makeClock(kind, version) {
  if (kind === 'xstate') {
    const clock = version === 'v4' ? new SimulatedClock4() : new X.v5.SimulatedClock();
    clock.advance = (ms) => clock.increment(ms);
    return clock;
  }
  return new StepClock();
}

// --- helpers -----------------------------------------------------------------------------------
const plain = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
// keys whose values are data, not machine structure: never rewritten, never searched for src
const DATA_KEYS = new Set(['meta', 'context', 'output', 'data', 'input', 'params', 'description', 'tags']);

function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// every string `src` of an invoke, anywhere in the machine
function serviceNames(config, out = new Set()) {
  if (Array.isArray(config)) {
    for (const item of config) serviceNames(item, out);
  } else if (isObj(config)) {
    for (const [key, value] of Object.entries(config)) {
      if (DATA_KEYS.has(key)) continue;
      if (key === 'invoke') {
        for (const inv of Array.isArray(value) ? value : [value]) {
          if (isObj(inv) && typeof inv.src === 'string') out.add(inv.src);
          if (isObj(inv) && isObj(inv.src) && typeof inv.src.type === 'string') out.add(inv.src.type);
        }
      }
      serviceNames(value, out);
    }
  }
  return out;
}

// v5: guards written as JSON data ({type: "stateIn", params: {state}}, {type: "and" | "or" |
// "not", params: {guards: [...]}}) become XState's guard helpers
const BUILTIN_GUARDS = new Set(['stateIn', 'and', 'or', 'not']);
function guard5(spec) {
  if (!isObj(spec)) return spec;
  const type = typeof spec.type === 'string' ? spec.type.replace(/^xstate\./, '') : spec.type;
  if (!BUILTIN_GUARDS.has(type)) return spec;
  const p = isObj(spec.params) ? spec.params : {};
  const inner = Array.isArray(p.guards) ? p.guards.map(guard5) : p.guard !== undefined ? [guard5(p.guard)] : [];
  if (type === 'stateIn') return X.v5.stateIn(p.state);
  if (type === 'and') return X.v5.and(inner);
  if (type === 'or') return X.v5.or(inner);
  return X.v5.not(inner[0]);
}
// v5: XState's own actions written as JSON data, the objects v4 builds ({type: 'xstate.assign',
// assignment}, {type: 'xstate.raise', event}, {type: 'xstate.log', expr?, label?}: the
// spelling dialoghub reads in both versions) become v5's assign() / raise() / log()
function action5(spec) {
  if (Array.isArray(spec)) return spec.map(action5);
  if (!isObj(spec)) return spec;
  if (spec.type === 'xstate.assign' && isObj(spec.assignment)) return X.v5.assign(spec.assignment);
  if (spec.type === 'xstate.raise' && spec.event !== undefined) {
    return X.v5.raise(typeof spec.event === 'string' ? { type: spec.event } : spec.event);
  }
  if (spec.type === 'xstate.log') return X.v5.log(spec.expr, spec.label);
  return spec;
}
const ACTION_KEYS = new Set(['entry', 'exit', 'actions']);
function rewriteGuards5(config) {
  if (Array.isArray(config)) return config.map(rewriteGuards5);
  if (!isObj(config)) return config;
  const out = {};
  for (const [key, value] of Object.entries(config)) {
    if (DATA_KEYS.has(key)) out[key] = value;
    else if (key === 'guard') out[key] = guard5(value);
    else if (ACTION_KEYS.has(key)) out[key] = action5(value);
    else out[key] = rewriteGuards5(value);
  }
  return out;
}

// v4 passes a named guard's or action's object ({type: 'countAbove', n: 5}) as meta.cond /
// meta.action, merged with the implementation for assign; its other keys are the params
function params4(obj) {
  if (!isObj(obj)) return {};
  const { type, assignment, exec, predicate, ...rest } = obj;
  return rest;
}

// A configuration XState should never reach: a compound state with other than one active child,
// a parallel state with a region not active, a node active without its parent. XState v4 gets
// there when regions of a parallel state take conflicting transitions (it takes them all), v5
// after a transition to a parallel state's history state; the step is marked "illegal" (the
// trace goes on, as XState does; see README.md).
function illegalConfiguration(nodes) {
  const active = new Set(nodes);
  for (const node of nodes) {
    if (node.parent && !active.has(node.parent)) return `${node.id} is active without its parent`;
    const children = Object.values(node.states || {}).filter((c) => c.type !== 'history');
    const on = children.filter((c) => active.has(c));
    if (node.type === 'compound' && on.length !== 1) {
      return `${on.length} active children of the compound state ${node.id}: ${on.map((c) => c.id).join(', ')}`;
    }
    if (node.type === 'parallel' && on.length !== children.length) {
      return `a region of the parallel state ${node.id} is not active`;
    }
  }
  return null;
}

// --- one machine, one version ------------------------------------------------------------------
function snapshotStep4(state, event, output) {
  return {
    event,
    value: plain(state.value),
    context: plain(state.context),
    done: Boolean(state.done),
    output: plain(output),
    configuration: state.configuration.map((n) => n.id).sort(),
    tags: [...(state.tags || [])].sort(),
    meta: plain(state.meta || {}),
  };
}

function snapshotStep5(snap, event) {
  return {
    event,
    value: plain(snap.value),
    context: plain(snap.context),
    done: snap.status === 'done',
    output: plain(snap.output),
    configuration: snap._nodes.map((n) => n.id).sort(),
    tags: [...(snap.tags || [])].sort(),
    meta: plain(snap.getMeta()),
  };
}

function start4(config, clock) {
  const x = X.v4;
  const pending = new Map(); // invoke id -> deferred
  const byPromise = new WeakMap();
  const services = {};
  for (const name of serviceNames(config)) {
    services[name] = () => {
      const d = deferred();
      byPromise.set(d.promise, d);
      return d.promise;
    };
  }
  const guards = {};
  for (const [name, fn] of Object.entries(libGuards)) {
    guards[name] = (context, event, meta) => fn(context ?? {}, event, params4(meta && meta.cond));
  }
  const actions = {};
  for (const [name, fn] of Object.entries(libActions)) {
    actions[name] = x.assign((context, event, meta) => fn(context ?? {}, event, params4(meta && meta.action)));
  }
  const machine = x.createMachine(config, { guards, actions, services });
  let output;
  const service = x.interpret(machine, { clock });
  const spawnPromise = service.spawnPromise;
  service.spawnPromise = function (promise, id) {
    const d = byPromise.get(promise);
    if (d) pending.set(id, d);
    return spawnPromise.call(this, promise, id);
  };
  service.onDone((e) => {
    output = e.data;
  });
  service.start();
  return {
    step: (event) => snapshotStep4(service.state, event, output),
    nodes: () => service.state.configuration,
    send: (event) => service.send(event),
    pending,
    failure: () => null,
  };
}

function start5(config, clock) {
  const x = X.v5;
  const pending = new Map();
  const actors = {};
  for (const name of serviceNames(config)) {
    actors[name] = x.fromPromise(({ self }) => {
      const d = deferred();
      pending.set(self.id, d);
      return d.promise;
    });
  }
  const guards = {};
  for (const [name, fn] of Object.entries(libGuards)) {
    guards[name] = ({ context, event }, params) => fn(context ?? {}, event, params ?? {});
  }
  const actions = {};
  for (const [name, fn] of Object.entries(libActions)) {
    actions[name] = x.assign(({ context, event }, params) => fn(context ?? {}, event, params ?? {}));
  }
  const machine = x.setup({ guards, actions, actors }).createMachine(rewriteGuards5(config));
  const actor = x.createActor(machine, { clock, logger: say }); // log(): a warning, not stdout
  let failed = null; // {error}: what the error observer got (an error may be any value, 0 too)
  actor.subscribe({ error: (e) => (failed = { error: e }) });
  actor.start();
  return {
    step: (event) => snapshotStep5(actor.getSnapshot(), event),
    nodes: () => actor.getSnapshot()._nodes,
    send: (event) => actor.send(event),
    pending,
    // null, or {error}: the machine stopped on an error (v5's status 'error')
    failure: () => {
      const snap = actor.getSnapshot();
      if (snap.status === 'error') return { error: snap.error };
      return failed;
    },
  };
}

function mark(step, run) {
  const illegal = illegalConfiguration(run.nodes());
  if (illegal) step.illegal = illegal;
  return step;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const message = (e) =>
  e instanceof Error ? e.message : typeof e === 'string' ? e : e === undefined ? 'undefined' : JSON.stringify(e);

async function runCase(req) {
  warnings = [];
  const version = req.version === 'v4' ? 'v4' : 'v5';
  const trace = [];
  let stepNo = 0;
  const result = () => ({ trace, error: null, warnings });
  // XState's own stack overflowing (v4 recursing over an illegal configuration) is no behaviour
  // to compare with: kind "stack-overflow"
  const kindOf = (e) =>
    e && e.kind === 'timer-storm' ? 'timer-storm' : e instanceof RangeError && /call stack/.test(e.message) ? 'stack-overflow' : 'error';
  const fail = (e, kind = kindOf(e)) => ({ trace, error: { step: stepNo, message: message(e), kind }, warnings });
  let run;
  let clock;
  try {
    const config = isObj(req.machine) ? { ...req.machine } : req.machine;
    if (req.context !== undefined && req.context !== null) config.context = req.context;
    clock = makeClock(req.clock, version);
    run = version === 'v4' ? start4(config, clock) : start5(config, clock);
    if (run.failure()) return fail(run.failure().error);
    trace.push(mark(run.step(null), run));
  } catch (e) {
    return fail(e);
  }
  for (const event of req.events || []) {
    stepNo += 1;
    try {
      if (isObj(event) && typeof event.advance === 'number') {
        clock.advance(event.advance);
      } else if (isObj(event) && (event.type === '$resolve' || event.type === '$reject')) {
        const d = run.pending.get(event.id);
        if (d) {
          run.pending.delete(event.id);
          if (event.type === '$resolve') d.resolve(event.data);
          else d.reject(event.data);
          await settle();
        }
      } else {
        run.send(event);
      }
      if (run.failure()) return fail(run.failure().error);
      trace.push(mark(run.step(event), run));
    } catch (e) {
      return fail(e);
    }
  }
  return result();
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let answer;
    try {
      const req = JSON.parse(line);
      if (req.hello) answer = { versions: VERSIONS, node: process.version };
      else answer = await runCase(req);
    } catch (e) {
      answer = { trace: [], error: { step: 0, message: `bad request: ${message(e)}`, kind: 'error' }, warnings: [] };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
}

await main();
