"""The Redis ledger's Lua scripts: each runs atomically on the server.

Per user and per token one hash holds:
  base   the database value (balance, or a token's used quota) as of ledger_seq `seed`, plus every
         later flushed charge; absent until seeded from the database
  seed   the ledger_seq of the database snapshot `base` started from
  seen   the highest ledger_seq of a flushed charge this hash has heard of
  held   reserved by requests in flight, over all processes
  unfl   charged by settled requests whose usage records are not yet written (or not yet reported)
  h:<process>, u:<process>   each process's share of held and unfl, so a process can set its own
         share back to what it knows (after a lost reply or a Redis restart) without touching others'
The generation key names this Redis' life: a restarted, empty Redis has none, and every process
that finds it missing re-enters its shares before requests are admitted again (the warm-up).
"""

from __future__ import annotations

_CHECK_GENERATION = """
local gen = redis.call('GET', KEYS[1])
if gen ~= ARGV[1] then return {'GEN'} end
"""

_NUM = """
local function num(key, field)
  return tonumber(redis.call('HGET', key, field) or '0')
end
local function int(x)
  return string.format('%d', x)
end
"""

# Milliseconds until the warm-up of this generation ends (0 or less: over). KEYS[1]: generation
_WARM_UP_LEFT = """
local function warm_up_left()
  local warm = redis.call('GET', KEYS[1] .. ':warm')
  if not warm then return 0 end
  local t = redis.call('TIME')
  return tonumber(warm) - (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
"""

# KEYS: generation, user hash, token hash, process key set. ARGV: generation, process, amount, token limit ('' = unlimited)
RESERVE = (
    _CHECK_GENERATION
    + _NUM
    + _WARM_UP_LEFT
    + """
if warm_up_left() > 0 then return {'WARM'} end
local ubase = redis.call('HGET', KEYS[2], 'base')
local tbase = redis.call('HGET', KEYS[3], 'base')
if not ubase or not tbase then
  local cold = {'LOAD'}
  if not ubase then table.insert(cold, 'user') end
  if not tbase then table.insert(cold, 'token') end
  return cold
end
local amount = tonumber(ARGV[3])
if ARGV[4] ~= '' then
  local left = tonumber(ARGV[4]) - tonumber(tbase) - num(KEYS[3], 'held') - num(KEYS[3], 'unfl')
  if left < amount then return {'TOKEN', int(left)} end
end
local available = tonumber(ubase) - num(KEYS[2], 'held') - num(KEYS[2], 'unfl')
if available < amount then return {'BALANCE', int(available)} end
for i = 2, 3 do
  redis.call('HINCRBY', KEYS[i], 'held', amount)
  redis.call('HINCRBY', KEYS[i], 'h:' .. ARGV[2], amount)
end
redis.call('SADD', KEYS[4], KEYS[2], KEYS[3])
return {'OK'}
"""
)

# Settled requests, summed per hash: holds released, charges not yet written.
# KEYS: generation, process key set, hash... ARGV: generation, process, then per hash: held change, unwritten change
SETTLE = (
    _CHECK_GENERATION
    + _NUM
    + """
local p = ARGV[2]
for i = 3, #KEYS do
  local k = KEYS[i]
  local held = ARGV[2 * i - 3]
  local unfl = ARGV[2 * i - 2]
  redis.call('HINCRBY', k, 'held', held)
  redis.call('HINCRBY', k, 'h:' .. p, held)
  redis.call('HINCRBY', k, 'unfl', unfl)
  redis.call('HINCRBY', k, 'u:' .. p, unfl)
  redis.call('SADD', KEYS[2], k)
end
return {'OK'}
"""
)

# Charges written to the database. KEYS: generation, hash... ARGV: generation, process, then per hash:
# charge, signed change of base (balance down, used quota up), the row's ledger_seq after the write
FLUSHED = (
    _CHECK_GENERATION
    + _NUM
    + """
for i = 2, #KEYS do
  local k = KEYS[i]
  local charge = tonumber(ARGV[3 * i - 3])
  local change = tonumber(ARGV[3 * i - 2])
  local seq = tonumber(ARGV[3 * i - 1])
  redis.call('HINCRBY', k, 'unfl', int(-charge))
  redis.call('HINCRBY', k, 'u:' .. ARGV[2], int(-charge))
  if redis.call('HEXISTS', k, 'base') == 1 and seq > num(k, 'seed') then
    redis.call('HINCRBY', k, 'base', int(change))
  end
  if seq > num(k, 'seen') then redis.call('HSET', k, 'seen', int(seq)) end
end
return {'OK'}
"""
)

# The database values of hashes, each with its ledger_seq; answers {'RETRY', i, ...} with the (1-based)
# positions of the hashes a later charge was flushed to meanwhile, to be read again, else {'OK'}.
# KEYS: generation, hash... ARGV: generation, then per hash: value, its ledger_seq
SEED = (
    _CHECK_GENERATION
    + _NUM
    + """
local retry = {'RETRY'}
for i = 2, #KEYS do
  local k = KEYS[i]
  local value = ARGV[2 * i - 2]
  local seq = tonumber(ARGV[2 * i - 1])
  if seq < num(k, 'seen') then
    table.insert(retry, i - 1)
  elseif redis.call('HEXISTS', k, 'base') == 0 or seq > num(k, 'seed') then
    redis.call('HSET', k, 'base', value, 'seed', ARGV[2 * i - 1], 'seen', ARGV[2 * i - 1])
  end
end
if #retry > 1 then return retry end
return {'OK'}
"""
)

# This process's shares as it knows them. KEYS: generation, process key set, hash...
# ARGV: generation, process, then per hash: held share, unflushed share
RESYNC = (
    _CHECK_GENERATION
    + _NUM
    + """
local p = ARGV[2]
for i = 3, #KEYS do
  local k = KEYS[i]
  local held = tonumber(ARGV[2 * i - 3])
  local unfl = tonumber(ARGV[2 * i - 2])
  redis.call('HINCRBY', k, 'held', int(held - num(k, 'h:' .. p)))
  redis.call('HINCRBY', k, 'unfl', int(unfl - num(k, 'u:' .. p)))
  if held == 0 then redis.call('HDEL', k, 'h:' .. p) else redis.call('HSET', k, 'h:' .. p, int(held)) end
  if unfl == 0 then redis.call('HDEL', k, 'u:' .. p) else redis.call('HSET', k, 'u:' .. p, int(unfl)) end
  redis.call('SADD', KEYS[2], k)
end
return {'OK'}
"""
)

# Whether reservations are admitted yet: {'WARM', ms left} during the warm-up, else {'OK'} (for /readyz).
# KEYS: generation. ARGV: generation
WARMING = (
    _CHECK_GENERATION
    + _WARM_UP_LEFT
    + """
local left = warm_up_left()
if left > 0 then return {'WARM', string.format('%d', left)} end
return {'OK'}
"""
)

# Start a generation if there is none. KEYS: generation. ARGV: new generation, warm-up in ms
ADOPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('SET', KEYS[1] .. ':warm', string.format('%d', ms + tonumber(ARGV[2])))
end
return redis.call('GET', KEYS[1])
"""

# A process says it is alive, and takes back the shares of processes silent for too long.
# KEYS: generation, process registry. ARGV: generation, process, silence limit in ms, key-set prefix
HEARTBEAT = (
    _CHECK_GENERATION
    + _NUM
    + """
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local known = redis.call('ZSCORE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[2], ms, ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms - tonumber(ARGV[3]))
for _, p in ipairs(dead) do
  local set = ARGV[4] .. p
  for _, k in ipairs(redis.call('SMEMBERS', set)) do
    redis.call('HINCRBY', k, 'held', int(-num(k, 'h:' .. p)))
    redis.call('HINCRBY', k, 'unfl', int(-num(k, 'u:' .. p)))
    redis.call('HDEL', k, 'h:' .. p, 'u:' .. p)
  end
  redis.call('DEL', set)
  redis.call('ZREM', KEYS[2], p)
end
if known then return {'OK'} end
return {'NEW'}
"""
)
