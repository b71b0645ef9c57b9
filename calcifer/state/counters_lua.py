"""The Redis scripts of `calcifer.state.counters_redis`: `calcifer.domain.limits` in Lua, one
atomic call per admission and one per settlement, on Redis's own clock.

Keys of one scope (4 per demand, in this order): `win` a hash of one-second buckets (`r<s>`
requests, `t<s>` tokens) with running totals `R`, `T` and the latest second `L`; `holds` a
sorted set of live holds (member `<hold>:<nano-dollars>`, score: lease expiry in ms); `held`
the sum of the live holds' nano-dollars; `spent` the period's settled spend in nano-dollars
(absent: not known, seed it from the ledger); `USAGE` only reads them. Money is integers:
INCRBY is exact in int64, and comparisons in Lua doubles are exact below 2^53 nano-dollars
($9,007,199).
"""

from __future__ import annotations

__all__ = ["ADMIT", "SETTLE", "USAGE"]

_COMMON = """
local W = 61
local clock = redis.call('TIME')
local second = tonumber(clock[1])
local now_ms = second * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- drop the buckets that left the window (each second once: amortised O(1))
local function advance(win)
  local latest = tonumber(redis.call('HGET', win, 'L') or '-1')
  if second <= latest then return end
  if latest < 0 or second - latest >= W then
    redis.call('DEL', win)
    redis.call('HSET', win, 'L', second, 'R', 0, 'T', 0)
    redis.call('PEXPIRE', win, 2 * W * 1000)
    return
  end
  local requests, tokens = 0, 0
  for gone = latest - W + 1, second - W do
    local counted = redis.call('HGET', win, 'r' .. gone)
    if counted then
      requests = requests + tonumber(counted)
      tokens = tokens + tonumber(redis.call('HGET', win, 't' .. gone) or '0')
      redis.call('HDEL', win, 'r' .. gone, 't' .. gone)
    end
  end
  redis.call('HSET', win, 'L', second)
  -- (never pass -0: Redis does not take it for an integer)
  if requests ~= 0 then redis.call('HINCRBY', win, 'R', -requests) end
  if tokens ~= 0 then redis.call('HINCRBY', win, 'T', -tokens) end
end
"""

ADMIT = (
    _COMMON
    + """
-- lapse the holds whose lease has ended (their amount is in the member's name)
local function lapse(holds, held)
  local gone = redis.call('ZRANGEBYSCORE', holds, '-inf', now_ms)
  if #gone == 0 then return end
  local nanos = 0
  for _, member in ipairs(gone) do
    nanos = nanos + tonumber(string.match(member, ':(%d+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', holds, '-inf', now_ms)
  redis.call('DECRBY', held, nanos)
end

-- seconds from now until buckets holding `excess` (of field prefix `kind`) have left
local function wait_ms(win, kind, excess)
  local dropped = 0
  for s = second - W + 1, second do
    dropped = dropped + tonumber(redis.call('HGET', win, kind .. s) or '0')
    if dropped >= excess then return (s + W) * 1000 - now_ms end
  end
  return W * 1000
end

local n, lease_ms, hold = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local unknown = {}
for i = 1, n do
  local k = (i - 1) * 4
  advance(KEYS[k + 1])
  lapse(KEYS[k + 2], KEYS[k + 3])
  if tonumber(ARGV[3 + (i - 1) * 6 + 4]) >= 0 and redis.call('EXISTS', KEYS[k + 4]) == 0 then
    table.insert(unknown, i)
  end
end
if #unknown > 0 then return {2, unpack(unknown)} end

for i = 1, n do
  local k, a = (i - 1) * 4, 3 + (i - 1) * 6
  local rpm, tpm, parallel = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local limit, nanos, tokens = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local win = KEYS[k + 1]
  local requests = tonumber(redis.call('HGET', win, 'R') or '0')
  local counted = tonumber(redis.call('HGET', win, 'T') or '0')
  if rpm >= 0 and requests + 1 > rpm then
    return {1, i, 'rpm', wait_ms(win, 'r', requests + 1 - rpm)}
  end
  if tpm >= 0 and tokens > tpm then return {1, i, 'tpm_request', 60000} end
  if tpm >= 0 and counted + tokens > tpm then
    return {1, i, 'tpm', wait_ms(win, 't', counted + tokens - tpm)}
  end
  if parallel >= 0 and redis.call('ZCARD', KEYS[k + 2]) + 1 > parallel then
    return {1, i, 'parallel', 1000}
  end
  if limit >= 0 then
    local spent = tonumber(redis.call('GET', KEYS[k + 4]))
    local holding = tonumber(redis.call('GET', KEYS[k + 3]) or '0')
    if spent + holding + nanos > limit then return {1, i, 'budget', 0} end
  end
end

local until_ms = now_ms + lease_ms
for i = 1, n do
  local k, a = (i - 1) * 4, 3 + (i - 1) * 6
  local win, holds, held = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  redis.call('HINCRBY', win, 'r' .. second, 1)
  redis.call('HINCRBY', win, 't' .. second, ARGV[a + 6])
  redis.call('HINCRBY', win, 'R', 1)
  redis.call('HINCRBY', win, 'T', ARGV[a + 6])
  redis.call('PEXPIRE', win, 2 * W * 1000)
  redis.call('ZADD', holds, until_ms, hold .. ':' .. ARGV[a + 5])
  redis.call('INCRBY', held, ARGV[a + 5])
  redis.call('PEXPIRE', holds, lease_ms + 60000)
  redis.call('PEXPIRE', held, lease_ms + 60000)
end
return {0, second, now_ms, until_ms}
"""
)

SETTLE = (
    _COMMON
    + """
-- ARGV: n, hold, admitted second, actual tokens, cost nano-dollars, settled-marker ttl ms,
-- then per demand: held nano-dollars, reserved tokens, has a budget (1/0).
-- KEYS: 4 per demand, then the settled marker (exactly once, even when a retry repeats it).
local n, hold, admitted = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local actual, cost = tonumber(ARGV[4]), ARGV[5]
if redis.call('SET', KEYS[n * 4 + 1], 1, 'NX', 'PX', ARGV[6]) == false then return 0 end
for i = 1, n do
  local k, a = (i - 1) * 4, 6 + (i - 1) * 3
  local win = KEYS[k + 1]
  advance(win)
  if admitted > second - W and redis.call('HEXISTS', win, 'r' .. admitted) == 1 then
    local change = actual - tonumber(ARGV[a + 2])
    if change ~= 0 then
      redis.call('HINCRBY', win, 't' .. admitted, change)
      redis.call('HINCRBY', win, 'T', change)
    end
  end
  if redis.call('ZREM', KEYS[k + 2], hold .. ':' .. ARGV[a + 1]) == 1 then
    redis.call('DECRBY', KEYS[k + 3], ARGV[a + 1])
  end
  if ARGV[a + 3] == '1' and redis.call('EXISTS', KEYS[k + 4]) == 1 then
    redis.call('INCRBY', KEYS[k + 4], cost)
  end
end
return 1
"""
)

USAGE = """#!lua flags=no-writes
-- KEYS: win, holds, spent of one scope. What it uses now, read without moving anything:
-- the seconds still in the window, the holds whose lease has not ended, the period's spend.
local W = 61
local clock = redis.call('TIME')
local second = tonumber(clock[1])
local now_ms = second * 1000 + math.floor(tonumber(clock[2]) / 1000)
local newest = math.max(second, tonumber(redis.call('HGET', KEYS[1], 'L') or '-1'))
local fields = {}
for s = newest - W + 1, newest do
  table.insert(fields, 'r' .. s)
  table.insert(fields, 't' .. s)
end
local counts = redis.call('HMGET', KEYS[1], unpack(fields))
local requests, tokens = 0, 0
for i = 1, #counts, 2 do
  requests = requests + tonumber(counts[i] or '0')
  tokens = tokens + tonumber(counts[i + 1] or '0')
end
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now_ms, '+inf')
local nanos = 0
for _, member in ipairs(live) do
  nanos = nanos + tonumber(string.match(member, ':(%d+)$'))
end
return {requests, tokens, #live, nanos, redis.call('GET', KEYS[3]) or '0'}
"""
