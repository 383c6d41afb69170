// The guards and actions every machine of tests/xstate may name, written once, version-free:
// guards are (context, event, params) -> boolean, actions (context, event, params) -> the
// context keys they change. tests/xstate/library.py is the same library in Python (same
// names, same results); run.mjs adapts both to XState v4 (`cond`, assign) and v5 (`guard`,
// assign with params). Everything is total: a missing or non-numeric key counts as 0, a missing
// event field as null, so no machine of the corpus or the generator can make one throw.

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const orNull = (v) => (v === undefined ? null : v);
const list = (v) => (Array.isArray(v) ? v : []);
const param = (params, key, fallback) =>
  params && typeof params[key] === 'number' ? params[key] : fallback;

export const guards = {
  // context.count is even (a missing count is 0, which is even)
  isEven: (context) => num(context.count) % 2 === 0,
  // context.count > params.n (default 3)
  countAbove: (context, event, params) => num(context.count) > param(params, 'n', 3),
  // the event carries ok: true
  eventOk: (context, event) => event.ok === true,
  // context.ticks < params.n (default 3): the generator guards every eventless transition
  // with it and makes `tick` its action, so eventless chains end within a macrostep
  ticksBelow: (context, event, params) => num(context.ticks) < param(params, 'n', 3),
};

export const actions = {
  // count += params.by (default 1)
  inc: (context, event, params) => ({ count: num(context.count) + param(params, 'by', 1) }),
  // count -= params.by (default 1)
  dec: (context, event, params) => ({ count: num(context.count) - param(params, 'by', 1) }),
  // count = 0
  reset: () => ({ count: 0 }),
  // value = event.value (null when the event has none)
  setFromEvent: (context, event) => ({ value: orNull(event.value) }),
  // seen += [event.type]: shows which event an action was given (done, after, init events)
  record: (context, event) => ({ seen: [...list(context.seen), event.type] }),
  // marks += [params.m]: which actions ran, in which order
  mark: (context, event, params) => ({ marks: [...list(context.marks), params && params.m !== undefined ? params.m : null] }),
  // ticks += 1 (see ticksBelow)
  tick: (context) => ({ ticks: num(context.ticks) + 1 }),
  // ticks = 0: the generator puts it only on transitions taken for an event or a delay
  untick: () => ({ ticks: 0 }),
  // result = the done event's payload: v5 event.output, v4 event.data
  setOutput: (context, event) => ({ result: orNull(event.output !== undefined ? event.output : event.data) }),
  // error = the error event's payload: v5 event.error, v4 event.data
  setError: (context, event) => ({ error: orNull(event.error !== undefined ? event.error : event.data) }),
};
