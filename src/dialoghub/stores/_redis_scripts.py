"""The Lua scripts of :mod:`dialoghub.stores.redis`: each one change, atomic inside Redis.

Keys, under ``base`` = ``{prefix}{tenant}:`` (tenant percent-escaped, so it has no ``:``):

``{base}s:{id}``   hash: ``v`` version, ``q`` last seq, ``s`` msgpack snapshot, ``o`` creation
                   order, ``m``/``st``/``su`` model id, state and status (for the indexes),
                   ``sx`` a statechart session's other state keys (msgpack list)
``{base}e:{id}``   stream: one entry per update, id ``{first_seq}-0``, field ``b`` =
                   msgpack ``[version, time, batch]``; explicit ids make Redis itself refuse
                   an entry that does not come after the last one
``{base}k:{id}``   hash: idempotency key -> msgpack ``[fingerprint, response]``
``{base}ix:{m}|{st}|{su}``  sorted sets of ids scored by creation order, one per filter
                   combination (each part ``*`` for "any" or ``#{bytes}:{value}``), so every
                   filtered listing is one ``ZRANGE BYSCORE ... LIMIT``: O(log n + page)
``{base}p:{id}``   sorted set: the snapshots kept every ``SNAPSHOT_EVERY`` versions (members
                   are the msgpack snapshots, scored by their seq), for time travel
``{prefix}timers`` sorted set: the snapshot hash key of every session with a timer, scored
                   by its due time; the hash field ``tn`` names the timer and goes with it
                   (a session last written by an older dialoghub may keep a stale one),
                   ``v`` is its version
``{prefix}closed`` sorted set: the snapshot hash key of every ended or expired session,
                   scored by its last update, for retention
``{prefix}tenants`` sorted set (all scores 0): the ``base`` of every tenant with sessions,
                   added by the write that creates its first, removed with its last
``{prefix}idem``   sorted set: every idempotency record, scored by the time of its update,
                   for retention; a member is ``#{bytes}:{hash key}{key}`` (its hash key's
                   length, the ``{base}k:{id}`` hash, the field). Records written by an
                   older dialoghub are not in it: they stay until their session goes

The scripts compute index key names themselves, which Redis Cluster does not allow: the
store targets one Redis (with replicas), not a cluster.
"""

from __future__ import annotations

__all__ = [
    "CLAIM",
    "DELETE",
    "DROP_TIMER",
    "EVENTS",
    "IMPORT",
    "LIST",
    "PURGE",
    "PURGE_IDEMPOTENCY",
    "REWIND",
    "STATES",
    "WRITES",
]

_INDEX = """
local function part(v)
    if not v then return '*' end
    return '#' .. #v .. ':' .. v
end
local function ixkey(base, mask, m, st, su)
    return base .. 'ix:' .. part(mask % 2 == 1 and m) .. '|'
        .. part(math.floor(mask / 2) % 2 == 1 and st) .. '|'
        .. part(math.floor(mask / 4) % 2 == 1 and su)
end
-- A statechart session's other state keys (ancestors, node ids: stores/_states.py) are in
-- the sets of the 4 masks that name a state, beside its own state's; the hash field 'sx'
-- keeps them (msgpack) so the next write or a delete can take them out.
local STATE_MASKS = {2, 3, 6, 7}
local function unextra(base, id, sx, m, su)
    if not sx then return end
    for _, k in ipairs(cmsgpack.unpack(sx)) do
        for _, mask in ipairs(STATE_MASKS) do
            redis.call('ZREM', ixkey(base, mask, m, k, su), id)
        end
    end
end
local function addextra(base, id, extra, order, m, su)
    for _, k in ipairs(extra) do
        for _, mask in ipairs(STATE_MASKS) do
            redis.call('ZADD', ixkey(base, mask, m, k, su), order, id)
        end
    end
end
-- The 8 keys ixkey gives for masks 0 to 7, each part built once.
local function ixkeys(base, m, st, su)
    local pm, pst, psu = part(m), part(st), part(su)
    local keys = {}
    for mask = 0, 7 do
        keys[mask + 1] = base .. 'ix:' .. (mask % 2 == 1 and pm or '*') .. '|'
            .. (mask % 4 >= 2 and pst or '*') .. '|' .. (mask >= 4 and psu or '*')
    end
    return keys
end
"""

# KEYS: order counter, timers, closed sessions, idempotency records by time, tenants.
# ARGV[1]: msgpack array with one array per write of the batch: [base, id, expected,
#   version, seq, model, state, status, first_seq (0 = no events), idempotency key ('' =
#   none), timer due time (nil = none), timer name, keep the snapshot (true/false), last
#   update, then the byte lengths of its snapshot, stream entry (0 = none) and idempotency
#   record (0 = none), the state keys beyond its state (stores/_states.py; [] for a
#   dialog)]. ARGV[2]: those binary values of every write, one after the other:
#   Redis's cmsgpack has no bin type, and one argument is cheaper to send than three per
#   write.
# A whole group-commit batch is one script call, so the client packs one argument list and
# parses one reply per batch instead of per write. Each write still succeeds or fails on its
# own: its checks (existence, compare-and-set, idempotency key, sequence) come before its
# first change, so a refused write changes nothing, and an error inside one write (pcall)
# fails that write only.
# Times go to ZADD as Lua numbers: redis.call formats them with 17 digits, exactly (only
# Lua's own tostring and '..' round to 14).
# Returns {outcomes, details}: outcomes has one character per write, '.' applied, 'x' exists,
# 'm' missing, 'c' conflict, 'r' idempotency key reused, 'g' seq gap, 'E' error; details is
# {i, value, ...}: the stored version (c), the stored seq (g) or the error message (E) of
# write i.
WRITES = (
    _INDEX
    + """
local function apply(a, snapshot, entry, record)
    local base, id, expected = a[1], a[2], a[3]
    local model, state, status = a[6], a[7], a[8]
    local first_seq, key = a[9], a[10]
    local skey = base .. 's:' .. id
    local cur = redis.call('HMGET', skey, 'v', 'q', 'o', 'm', 'st', 'su', 'tn', 'sx')
    local order
    if expected == 0 then
        if cur[1] then return 'x' end
        order = redis.call('INCR', KEYS[1])
        redis.call('ZADD', KEYS[5], 0, base)
    else
        if not cur[1] then return 'm' end
        if key ~= '' and redis.call('HEXISTS', base .. 'k:' .. id, key) == 1 then
            return 'r'
        end
        if tonumber(cur[1]) ~= expected then return 'c', cur[1] end
        if first_seq ~= 0 and first_seq ~= tonumber(cur[2]) + 1 then return 'g', cur[2] end
        order = cur[3]
    end
    -- The append comes first: it is the change most likely to fail (a stream id that does
    -- not follow, a key of the wrong type, the first write over maxmemory), and a Lua error
    -- is not rolled back, so a write that fails here has changed nothing.
    if first_seq ~= 0 then
        redis.call('XADD', base .. 'e:' .. id, string.format('%d-0', first_seq), 'b', entry)
    end
    if a[11] then
        redis.call('HSET', skey, 'v', a[4], 'q', a[5], 's', snapshot, 'o', order,
            'm', model, 'st', state, 'su', status, 'tn', a[12])
        redis.call('ZADD', KEYS[2], a[11], skey)
    else
        redis.call('HSET', skey, 'v', a[4], 'q', a[5], 's', snapshot, 'o', order,
            'm', model, 'st', state, 'su', status)
        if cur[7] then
            -- 'tn' is there exactly when the session may be in the timers set (layout 1
            -- never removed it, so such a session pays this once more).
            redis.call('HDEL', skey, 'tn')
            redis.call('ZREM', KEYS[2], skey)
        end
    end
    if key ~= '' then
        local hkey = base .. 'k:' .. id
        redis.call('HSET', hkey, key, record)
        redis.call('ZADD', KEYS[4], a[14], '#' .. #hkey .. ':' .. hkey .. key)
    end
    if a[13] then redis.call('ZADD', base .. 'p:' .. id, a[5], snapshot) end
    if status ~= 'active' then redis.call('ZADD', KEYS[3], a[14], skey) end
    -- A statechart session's other keys move when they or its model, state or status
    -- change: out before its own state's sets move (a key may pass from one to the other),
    -- in after. A dialog session has none and skips this.
    local extra = a[18]
    local packed = #extra > 0 and cmsgpack.pack(extra) or nil
    local rekey = (cur[8] or packed) and (packed ~= cur[8] or cur[4] ~= model
        or cur[5] ~= state or cur[6] ~= status)
    if rekey then unextra(base, id, cur[8], cur[4], cur[6]) end
    if expected == 0 then
        for _, ix in ipairs(ixkeys(base, model, state, status)) do
            redis.call('ZADD', ix, order, id)
        end
    elseif cur[4] ~= model or cur[5] ~= state or cur[6] ~= status then
        -- Only the sets whose name changes move; a turn that keeps model, state and status
        -- touches no index at all.
        local old = ixkeys(base, cur[4], cur[5], cur[6])
        local new = ixkeys(base, model, state, status)
        for i = 1, 8 do
            if old[i] ~= new[i] then
                redis.call('ZREM', old[i], id)
                redis.call('ZADD', new[i], order, id)
            end
        end
    end
    if rekey then
        addextra(base, id, extra, order, model, status)
        if packed then redis.call('HSET', skey, 'sx', packed)
        else redis.call('HDEL', skey, 'sx') end
    end
    return '.'
end

local writes = cmsgpack.unpack(ARGV[1])
local blobs = ARGV[2]
local at = 1
local outcomes, details = {}, {}
for i, a in ipairs(writes) do
    local snapshot = string.sub(blobs, at, at + a[15] - 1)
    at = at + a[15]
    local entry = string.sub(blobs, at, at + a[16] - 1)
    at = at + a[16]
    local record = string.sub(blobs, at, at + a[17] - 1)
    at = at + a[17]
    local ok, outcome, detail = pcall(apply, a, snapshot, entry, record)
    if not ok then
        detail = type(outcome) == 'table' and (outcome.err or outcome.ok) or tostring(outcome)
        outcome = 'E'
    end
    outcomes[i] = outcome
    if detail then
        details[#details + 1] = i
        details[#details + 1] = detail
    end
end
return {table.concat(outcomes), details}
"""
)

# KEYS: snapshot hash, events stream, order counter, kept snapshots, timers, closed,
# tenants.
# ARGV[1]: msgpack array [base, id, version, seq, model, state, status, timer due time ('' =
#   none), timer name, last update, number of stream entries, number of kept snapshots,
#   the state keys beyond its state];
#   ARGV[2]: snapshot; then per stream entry its id '{first_seq}-0' and its value (as WRITE
#   stores it), then per kept snapshot its seq and body. Everything is checked before the
#   first change (a script that fails half-way is not rolled back): returns {'exists'} and
#   writes nothing if the session or any key of it is there.
IMPORT = (
    _INDEX
    + """
local a = cmsgpack.unpack(ARGV[1])
local base, id = a[1], a[2]
local model, state, status = a[5], a[6], a[7]
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[4]) > 0 then return {'exists'} end
local order = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[7], 0, base)
redis.call('HSET', KEYS[1], 'v', a[3], 'q', a[4], 's', ARGV[2], 'o', order,
    'm', model, 'st', state, 'su', status)
local at = 3
for _ = 1, a[11] do
    redis.call('XADD', KEYS[2], ARGV[at], 'b', ARGV[at + 1])
    at = at + 2
end
for _ = 1, a[12] do
    redis.call('ZADD', KEYS[4], ARGV[at], ARGV[at + 1])
    at = at + 2
end
if a[8] ~= '' then
    redis.call('HSET', KEYS[1], 'tn', a[9])
    redis.call('ZADD', KEYS[5], a[8], KEYS[1])
end
if status ~= 'active' then redis.call('ZADD', KEYS[6], a[10], KEYS[1]) end
for mask = 0, 7 do
    redis.call('ZADD', ixkey(base, mask, model, state, status), order, id)
end
if #a[13] > 0 then
    addextra(base, id, a[13], order, model, status)
    redis.call('HSET', KEYS[1], 'sx', cmsgpack.pack(a[13]))
end
return {'ok'}
"""
)

_FORGET = """
local function forget(base, id, skey, timers, closed, tenants)
    local cur = redis.call('HMGET', skey, 'm', 'st', 'su', 'sx')
    if not cur[1] then return 0 end
    unextra(base, id, cur[4], cur[1], cur[3])
    redis.call('DEL', skey, base .. 'e:' .. id, base .. 'k:' .. id, base .. 'p:' .. id)
    for mask = 0, 7 do
        redis.call('ZREM', ixkey(base, mask, cur[1], cur[2], cur[3]), id)
    end
    redis.call('ZREM', timers, skey)
    redis.call('ZREM', closed, skey)
    -- Redis drops an empty sorted set: without its every-session set the tenant has none
    if redis.call('EXISTS', base .. 'ix:*|*|*') == 0 then redis.call('ZREM', tenants, base) end
    return 1
end
"""

# KEYS: snapshot hash, timers, closed, tenants. ARGV: base, id. Returns 1 or 0.
DELETE = (
    _INDEX
    + _FORGET
    + """
return forget(ARGV[1], ARGV[2], KEYS[1], KEYS[2], KEYS[3], KEYS[4])
"""
)

# KEYS: closed, timers, tenants. ARGV: prefix, before, limit. Deletes up to limit closed sessions
# last updated before ``before`` (oldest first) with everything they own; returns how many.
PURGE = (
    _INDEX
    + _FORGET
    + """
local keys = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[2], 'BYSCORE', 'LIMIT', 0,
    ARGV[3])
local n = 0
for _, skey in ipairs(keys) do
    -- skey is {prefix}{tenant}:s:{id}, and the escaped tenant has no ':'
    local rest = string.sub(skey, #ARGV[1] + 1)
    local colon = string.find(rest, ':', 1, true)
    local base = ARGV[1] .. string.sub(rest, 1, colon)
    local id = string.sub(rest, colon + 3)
    n = n + forget(base, id, skey, KEYS[2], KEYS[1], KEYS[3])
    redis.call('ZREM', KEYS[1], skey)
end
return n
"""
)

# KEYS: idempotency records by time. ARGV: before, limit. Deletes up to limit records
# written before ``before`` (oldest first); returns how many. Members whose record is gone
# already (its session was deleted) are dropped on the way and not counted.
PURGE_IDEMPOTENCY = """
local n, limit = 0, tonumber(ARGV[2])
while n < limit do
    local due = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[1], 'BYSCORE', 'LIMIT', 0,
        limit - n)
    if #due == 0 then break end
    for _, m in ipairs(due) do
        local colon = string.find(m, ':', 1, true)
        local len = tonumber(string.sub(m, 2, colon - 1))
        n = n + redis.call('HDEL', string.sub(m, colon + 1, colon + len),
            string.sub(m, colon + len + 1))
        redis.call('ZREM', KEYS[1], m)
    end
end
return n
"""

# KEYS: timers. ARGV: now, limit, now + lease. Returns {skey, version, name, due, ...} of the
# claimed timers, each moved to now + lease.
CLAIM = """
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2],
    'WITHSCORES')
local out = {}
for i = 1, #due, 2 do
    local skey = due[i]
    local h = redis.call('HMGET', skey, 'v', 'tn')
    if h[1] and h[2] then
        redis.call('ZADD', KEYS[1], ARGV[3], skey)
        out[#out + 1] = skey
        out[#out + 1] = h[1]
        out[#out + 1] = h[2]
        out[#out + 1] = due[i + 1]
    else
        redis.call('ZREM', KEYS[1], skey)
    end
end
return out
"""

# KEYS: timers, snapshot hash. ARGV: version. Removes the timer if the session is still there.
DROP_TIMER = """
if redis.call('HGET', KEYS[2], 'v') == ARGV[1] then redis.call('ZREM', KEYS[1], KEYS[2]) end
return 0
"""

# KEYS: kept snapshots, events stream. ARGV: at. Returns {snapshot or '', its seq, entries}:
# the nearest kept snapshot at or before ``at`` and the stream entries after it up to ``at``.
REWIND = """
local kept = redis.call('ZRANGE', KEYS[1], ARGV[1], '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1,
    'WITHSCORES')
local since = 0
local body = ''
if #kept > 0 then
    body = kept[1]
    since = tonumber(kept[2])
end
local entries = redis.call('XRANGE', KEYS[2], string.format('%d-0', since + 1),
    string.format('%d-0', tonumber(ARGV[1])))
return {body, since, entries}
"""

# KEYS: events stream. ARGV: '{after+1}-0', limit. The entry holding seq after+1 is the last
# one whose id is at or before it; each entry holds at least one event.
EVENTS = """
local first = redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', 1)
local from = '-'
if #first > 0 then from = first[1][1] end
return redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', ARGV[2])
"""

# KEYS: index sorted set. ARGV: base, creation order after which to start, how many.
# Returns {order, snapshot, order, snapshot, ...}.
LIST = """
local ids = redis.call('ZRANGE', KEYS[1], '(' .. ARGV[2], '+inf', 'BYSCORE', 'LIMIT', 0,
    ARGV[3])
local out = {}
for _, id in ipairs(ids) do
    local h = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'o', 's')
    if h[2] then
        out[#out + 1] = h[1]
        out[#out + 1] = h[2]
    end
end
return out
"""


# Layout 2 for data already stored (RedisStore.open): a statechart session's other state keys.
# KEYS: snapshot hash. ARGV: base, id, the version its snapshot was read at, the keys (msgpack
# list). Applied only if the session is still at that version and has none yet (a write since
# has keyed it itself); returns 1 if applied.
STATES = (
    _INDEX
    + """
local cur = redis.call('HMGET', KEYS[1], 'v', 'o', 'm', 'su', 'sx')
if cur[1] ~= ARGV[3] or cur[5] then return 0 end
addextra(ARGV[1], ARGV[2], cmsgpack.unpack(ARGV[4]), cur[2], cur[3], cur[4])
redis.call('HSET', KEYS[1], 'sx', ARGV[4])
return 1
"""
)
