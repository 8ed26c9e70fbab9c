package idemredis

import "github.com/redis/go-redis/v9"

// Record hash fields: v format version, s state (1 in flight, 2 completed),
// f fingerprint, t fencing token, l lease end (ms since epoch), p payload.
//
// Times come from the server (TIME), so instances with skewed clocks agree
// on when a lease ends. Tokens are written with %.0f because Lua numbers
// are doubles and tostring would print large ones in exponent form.

// beginScript: KEYS[1] record; ARGV fingerprint, lease ms, ttl ms, version.
// Returns {outcome, token, tookOver, state, fingerprint, leaseEnd, pttl, payload}
// with outcome 1 claimed, 2 replay, 3 mismatch, 4 in flight, -1 unknown
// record version.
var beginScript = redis.NewScript(`
local now = redis.call('TIME')
local nowms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local nowus = tonumber(now[1]) * 1000000 + tonumber(now[2])
local r = redis.call('HMGET', KEYS[1], 'v', 's', 'f', 't', 'l')
if r[2] then
  if r[1] ~= ARGV[4] then
    return {-1, 0, 0, r[1] or ''}
  end
  local pttl = redis.call('PTTL', KEYS[1])
  if r[3] ~= ARGV[1] then
    return {3, 0, 0, r[2], r[3], r[5] or '0', pttl}
  end
  if r[2] == '2' then
    return {2, 0, 0, r[2], r[3], '0', pttl, redis.call('HGET', KEYS[1], 'p')}
  end
  if tonumber(r[5]) > nowms then
    return {4, 0, 0, r[2], r[3], r[5], pttl}
  end
  local tok = math.max(tonumber(r[4]) + 1, nowus)
  local stok = string.format('%.0f', tok)
  redis.call('HSET', KEYS[1], 't', stok, 'l', string.format('%.0f', nowms + tonumber(ARGV[2])))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, stok, 1}
end
local stok = string.format('%.0f', nowus)
redis.call('HSET', KEYS[1], 'v', ARGV[4], 's', '1', 'f', ARGV[1], 't', stok,
  'l', string.format('%.0f', nowms + tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, stok, 0}
`)

// fencedGuard opens every script that acts on a claim: it goes on only
// while KEYS[1] is in flight and held with the fencing token ARGV[1], and
// otherwise answers 0 (core.ErrLeaseLost) having changed nothing. It is
// the one place the fencing rule is written.
const fencedGuard = `
local r = redis.call('HMGET', KEYS[1], 's', 't')
if r[1] ~= '1' or r[2] ~= ARGV[1] then
  return 0
end
`

// renewScript: KEYS[1] record; ARGV token, lease ms, min ttl ms.
// Returns 1 when the claim is held with token and was extended, else 0.
var renewScript = redis.NewScript(fencedGuard + `
local now = redis.call('TIME')
local nowms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('HSET', KEYS[1], 'l', string.format('%.0f', nowms + tonumber(ARGV[2])))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`)

// completeScript: KEYS[1] record; ARGV token, payload, ttl ms.
var completeScript = redis.NewScript(fencedGuard + `
redis.call('HSET', KEYS[1], 's', '2', 'p', ARGV[2])
redis.call('HDEL', KEYS[1], 'l')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// releaseScript: KEYS[1] record; ARGV token.
var releaseScript = redis.NewScript(fencedGuard + `
redis.call('DEL', KEYS[1])
return 1
`)
