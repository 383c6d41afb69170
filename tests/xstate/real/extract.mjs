// Captures every machine config passed to createMachine / setup().createMachine in the given
// files (TS/JS, transformed by sucrase), functions marked; prints one JSON line per machine:
// {file, index, config, impl: {guards, actions, actors, services, delays: [names]}}.
// See run.py for how to run it; SUCRASE is the folder holding node_modules/sucrase.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';

const { transform } = createRequire(`${process.env.SUCRASE || process.cwd()}/`)('sucrase');

const files = process.argv.slice(2);
const FN = Symbol('fn');
function anyProxy() {
  const target = function () {};
  const p = new Proxy(target, {
    get(_, k) {
      if (k === 'then') return undefined;
      if (k === Symbol.toPrimitive) return () => 0;
      if (k === Symbol.iterator) return function* () {};
      return p;
    },
    apply() { return p; },
    construct() { return p; },
    has() { return true; },
  });
  return p;
}
const plainObj = (x) => x && typeof x === 'object' && !Array.isArray(x);
function builtin(kind) {
  // XState's own action objects where the arguments are data (v4 builds exactly these)
  if (kind === 'assign') return (x, ...rest) => (plainObj(x) && !rest.length ? { type: 'xstate.assign', assignment: x } : marked(kind));
  if (kind === 'raise') return (e, ...rest) => ((typeof e === 'string' || plainObj(e)) && !rest.length ? { type: 'xstate.raise', event: e } : marked(kind));
  if (kind === 'log') return (expr, label) => (typeof expr === 'string' || expr === undefined) && (label === undefined || typeof label === 'string')
    ? Object.assign({ type: 'xstate.log' }, expr !== undefined ? { expr } : {}, label !== undefined ? { label } : {}) : marked(kind);
  return (...args) => marked(kind);
}
function marked(kind) { const f = function () {}; f[FN] = kind; return f; }
let captured = [];
function capture(config, impl, file) {
  captured.push({ config, impl: impl || {}, file });
  return anyProxy();
}
function xstateModule(file) {
  return new Proxy({}, {
    get(_, name) {
      if (name === '__esModule') return true;
      if (name === 'createMachine') return (config, impl) => capture(config, impl, file);
      if (name === 'setup') return (impl) => ({
        createMachine: (config) => capture(config, impl, file),
        extend: () => ({ createMachine: (config) => capture(config, impl, file) }),
        createAction: builtin('action'), assign: builtin('assign'),
      });
      if (name === 'Machine') return (config, impl) => capture(config, impl, file);
      return builtin(name);
    },
  });
}
function sanitize(value, seen = new Set()) {
  if (typeof value === 'function') return { $fn: value[FN] || 'inline' };
  if (value === null || typeof value !== 'object') return value === undefined ? { $undefined: true } : value;
  if (seen.has(value)) return { $cycle: true };
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => sanitize(v, seen));
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = sanitize(v, seen);
  seen.delete(value);
  return out;
}
for (const file of files) {
  captured = [];
  let code;
  try {
    code = transform(fs.readFileSync(file, 'utf8'), {
      transforms: ['typescript', 'jsx', 'imports'], filePath: file,
    }).code;
  } catch (e) { console.log(JSON.stringify({ file, error: 'transform: ' + e.message })); continue; }
  const call = (fn) => { try { const r = fn && fn(); if (r && r.catch) r.catch(() => {}); } catch (e) {} };
  const group = (name, fn) => call(typeof name === 'function' ? name : fn);
  group.each = () => group; group.skip = group; group.only = group;
  const sandbox = {
    require: (m) => (m === 'xstate' || m.startsWith('xstate/') || m.includes('/src') && !m.startsWith('.') ? xstateModule(file)
      : m.startsWith('.') && /(\.\.\/)+src|\.\.\/src/.test(m) ? xstateModule(file) : anyProxy()),
    exports: {}, module: { exports: {} }, console: { log() {}, warn() {}, error() {} },
    describe: group, it: group, test: group, beforeEach: call, afterEach: () => {}, beforeAll: call,
    afterAll: () => {}, expect: anyProxy(), jest: anyProxy(), vi: anyProxy(), setTimeout: () => 0,
    clearTimeout: () => {}, setInterval: () => 0, clearInterval: () => {}, Promise, Date, Math, JSON,
    Object, Array, Symbol, Error, Map, Set, process: { env: {} }, window: anyProxy(), document: anyProxy(),
  };
  try { vm.runInNewContext(code, sandbox, { timeout: 2000 }); }
  catch (e) { /* partial capture is fine */ }
  captured.forEach((c, i) => {
    let config;
    try { config = sanitize(c.config); } catch (e) { return; }
    const impl = {};
    for (const k of ['guards', 'actions', 'actors', 'services', 'delays']) {
      if (c.impl && typeof c.impl === 'object' && c.impl[k] && typeof c.impl[k] === 'object') impl[k] = Object.keys(c.impl[k]);
    }
    console.log(JSON.stringify({ file: file, index: i, config, impl }));
  });
}
