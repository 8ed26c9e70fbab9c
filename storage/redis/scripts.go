package idemredis

import "github.com/redis/go-redis/v9"

// Record hash fields: v format version, s state (1 in flight, 2 completed),
// f fingerprint, t fencing token, l lease end (ms since epoch; 0 once
// completed), n nonce and token of the attempt holding the claim
// ("<nonce>:<token>"), p payload.
//
// Times come from the server (TIME), so instances with skewed clocks agree
// on when a lease ends. Tokens are the server clock in microseconds,
// formatted with %d%06d or %.0f because Lua numbers are doubles and
// tostring would print large ones in exponent form; lease ends (13
// digits) survive Lua's %.14g.
//
// Every redis.call costs about as much Redis CPU as the script's own
// overhead (SPEC §7 allows 5 µs per script, measured by
// BenchmarkScriptCPU), so each path makes as few as it can: a resent
// Begin makes one, a replay two, a first claim four.
//
// go-redis resends a command whose reply did not arrive in time, so every
// script must give the same answer when it runs twice: Begin recognises
// its own claim by the attempt's nonce, Complete its own completion by the
// token, and Release finds nothing to release.

// beginScript: KEYS[1] record; ARGV fingerprint, lease ms, ttl ms, version,
// nonce. Returns, by outcome:
//
//	{1, token, tookOver}               claimed (or the caller's own claim, resent)
//	{2, pttl, payload}                 replay
//	{3, state, fingerprint, leaseEnd, pttl} mismatch
//	{4, leaseEnd, pttl}                in flight
//	{-1, version}                      a record of an unknown format version
//
// A record exists when it has a version or a state field: one with an
// unknown version is reported, never overwritten or treated as absent.
// The nonce field holds the token too, so that a takeover by code that
// does not write it (an older release during a rolling upgrade) can never
// hand the new owner's claim to the previous attempt.
var beginScript = redis.NewScript(`
local r = redis.call('HMGET', KEYS[1], 'v', 's', 'f', 't', 'l', 'n', 'p')
local took = 0
if r[1] or r[2] then
  if r[1] ~= ARGV[4] then
    return {-1, r[1] or ''}
  end
  if r[3] ~= ARGV[1] then
    return {3, r[2], r[3], r[5] or '0', redis.call('PTTL', KEYS[1])}
  end
  if r[2] == '2' then
    return {2, redis.call('PTTL', KEYS[1]), r[7]}
  end
  if r[6] == ARGV[5] .. ':' .. r[4] then
    return {1, r[4], 0}
  end
  took = 1
end
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local tok
if took == 1 then
  if tonumber(r[5]) > ms then
    return {4, r[5], redis.call('PTTL', KEYS[1])}
  end
  tok = string.format('%.0f', math.max(r[4] + 1, now[1] * 1000000 + now[2]))
else
  tok = string.format('%d%06d', now[1], now[2])
end
redis.call('HSET', KEYS[1], 'v', ARGV[4], 's', '1', 'f', ARGV[1], 't', tok,
  'l', ms + ARGV[2], 'n', ARGV[5] .. ':' .. tok)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, tok, took}
`)

// readClaim opens every script that acts on a claim. held is true while
// KEYS[1] is in flight and held with the fencing token ARGV[1]; it is the
// one place the fencing rule is written. r keeps state, token and version
// for the scripts' answers when it is not held.
const readClaim = `
local r = redis.call('HMGET', KEYS[1], 's', 't', 'v')
local held = r[1] == '1' and r[2] == ARGV[1]
`

// renewScript: KEYS[1] record; ARGV token, lease ms, min ttl ms.
// Returns 1 when the claim is held with token and was extended, else 0.
var renewScript = redis.NewScript(readClaim + `
if not held then
  return 0
end
local now = redis.call('TIME')
redis.call('HSET', KEYS[1], 'l', now[1] * 1000 + math.floor(now[2] / 1000) + ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`)

// completeScript: KEYS[1] record; ARGV token, payload, ttl ms.
// Returns 1 when it stored the payload, 2 when the record was already
// completed with token (a resent Complete: the stored payload stays), 0
// when the claim is lost.
var completeScript = redis.NewScript(readClaim + `
if not held then
  if r[1] == '2' and r[2] == ARGV[1] then
    return 2
  end
  return 0
end
redis.call('HSET', KEYS[1], 's', '2', 'p', ARGV[2], 'l', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// releaseScript: KEYS[1] record; ARGV token.
// Returns 1 when it deleted the claim, 2 when there was no record (a
// resent Release, or a claim that expired), 0 when another token holds the
// record or it is completed (or of an unknown format).
var releaseScript = redis.NewScript(readClaim + `
if not held then
  if r[1] or r[3] then
    return 0
  end
  return 2
end
redis.call('DEL', KEYS[1])
return 1
`)
