package idemredis

import "github.com/redis/go-redis/v9"

// Record hash fields: v format version, s state (1 in flight, 2
// completed, 3 tombstone, 4 uncertain), f fingerprint, t fencing token, l
// lease end (ms since epoch; 0 once final), n nonce and token of the
// attempt holding the claim ("<nonce>:<token>"; on a stranded record the
// nonce of the Begin that stranded it), c "1" once the claim is committed
// (Commit), "2" on the uncertain record Begin made of a stranded claim (it
// stays on a later final record, where it means nothing), p payload (the
// encoded response, or the reason of a tombstone or uncertain record), g
// the claim's signature (core.Attempt.Sig, record signing), absent or
// empty when the claim is not signed: written by the Begin that claims or
// takes over (a takeover by an unsigned claim empties it), kept by
// Renew, Commit and stranding, left on a later final record, where it
// means nothing (Complete and Resolve do not touch it: only the claim and
// the stranded record answer with it), h the commitment's signature
// (the sig of core.Store.Commit), absent when the commitment is not
// signed: written by Commit, kept by Renew and stranding, emptied by a
// takeover (which only an uncommitted claim, and so no genuine h, can
// undergo), left on a later final record, where it means nothing (only
// a committed claim and the stranded record answer with it), w "1" once
// a Begin found the claim in flight (someone may wait for it: Complete
// and Release then PUBLISH the record's key on the store's channel, see
// notify.go; absent, they publish nothing), kept by every later write
// (a takeover's owner is waited for by the same duplicates). Readers
// ignore it, so it needs no new format version.
//
// Times come from the server (TIME), so instances with skewed clocks agree
// on when a lease ends. Tokens are the server clock in microseconds,
// formatted with %d%06d or %.0f because Lua numbers are doubles and
// tostring would print large ones in exponent form; lease ends (13
// digits) survive Lua's %.14g. A record that Resolve completed carries
// token 0, which no claim ever holds, so its former owner's late Complete
// is fenced off instead of being taken for its own resend.
//
// Every redis.call costs about as much Redis CPU as the script's own
// overhead (SPEC §7 allows 5 µs per script, measured by
// BenchmarkScriptCPU), so each path makes as few as it can:
//
//	Begin     resent 1; replay, tombstone, uncertain, mismatch with
//	          a final record 2 (3 for the uncertain record Begin made
//	          of a stranded claim); first claim 4; in flight 4 (5 the first
//	          time: it marks the record waited on, w); mismatch with a
//	          claim 3 (4 when committed); takeover 5; stranded (a
//	          committed claim whose lease expired, turned uncertain) 5;
//	          the same signed or not (the signatures ride on the HMGETs
//	          and HSET). The first HMGET reads the 7 fields every path
//	          needs; lease, signatures and w only a claim (and a stranded
//	          record) needs come with a second, so that the hot paths
//	          (first claim, replay) read fewer fields
//	Commit    2 (1 when the claim is lost, as for every fenced script)
//	Renew     4, or 5 when the key's TTL must grow
//	Complete  3 (1 for a resend), 4 when waited on (PUBLISH)
//	Release   2, 3 when waited on (PUBLISH)
//	Resolve   2 to delete, 3 to complete; one more (TIME) for a
//	          committed claim; 1 when there is nothing to resolve
//
// go-redis resends a command whose reply did not arrive in time, so every
// script must give the same answer when it runs twice: Begin recognises
// its own claim by the attempt's nonce, Commit finds its claim committed
// already, Complete its own final record by the token, and Release finds
// nothing to release. Resolve is the exception: an operator's command, it
// answers a resend with ErrNotFound or ErrNotResolvable (see
// Store.Resolve).

// strandedReason is the payload Begin gives the uncertain record it makes
// of a stranded claim. It must not contain a quote: it is spliced into
// the script's source.
const strandedReason = "owner lost its lease after declaring effects"

// beginScript: KEYS[1] record; ARGV fingerprint, lease ms, ttl ms, version,
// nonce, signature (empty for none). Returns, by outcome:
//
//	{1, token, tookOver}                    claimed (or the caller's own claim, resent)
//	{2, state, pttl, payload, token, stranded, sig, csig}  a final record, same fingerprint
//	{3, state, fingerprint, leaseEnd, pttl, stranded, committed, token, payload, sig, csig}  mismatch
//	{4, leaseEnd, pttl, token, committed, sig, csig}  in flight
//	{-1, version, state[, field]}           a record of an unknown format
//	                                        (or a claim whose lease or token is no number)
//
// sig is the record's g field for a claim and a stranded record, else
// empty; csig its h field for a committed claim and a stranded record,
// else empty (they are last, so that a reply without them reads as
// unsigned).
// A record exists when it has a version or a state field: one with an
// unknown version or state is reported, never overwritten or treated as
// absent. An in-flight claim whose lease expired is taken over, unless
// it is committed: then it becomes uncertain (keeping its token,
// fingerprint and expiry; c "2" marks it stranded, n holds the stranding
// attempt's nonce), and the one Begin that did it reports stranded = 1,
// whatever its fingerprint, as does its resend. The owner's own resent
// Begin (its nonce) still gets its claim back.
// The nonce field holds the token too, so that a takeover by code that
// does not write it (an older release during a rolling upgrade) can never
// hand the new owner's claim to the previous attempt.
var beginScript = redis.NewScript(`
local r = redis.call('HMGET', KEYS[1], 'v', 's', 'f', 't', 'n', 'p', 'c')
local v, s, f, t, n, p, c = r[1], r[2], r[3], r[4], r[5], r[6], r[7]
local took, stranded, now, ms, l, g, h, w = 0, 0
if v or s then
  if v ~= ARGV[4] or not (s == '1' or s == '2' or s == '3' or s == '4') then
    return {-1, v or '', s or ''}
  end
  local own = ARGV[5] .. ':' .. (t or '')
  if s == '1' and n == own and f == ARGV[1] then
    return {1, t, 0}
  end
  if s == '1' or s == '4' and c == '2' then
    local q = redis.call('HMGET', KEYS[1], 'l', 'g', 'h', 'w')
    l, g, h, w = q[1], q[2], q[3], q[4]
  end
  if s == '1' and c == '1' and n ~= own then
    now = redis.call('TIME')
    ms = now[1] * 1000 + math.floor(now[2] / 1000)
    if (tonumber(l) or 0) <= ms then
      redis.call('HSET', KEYS[1], 's', '4', 'p', '` + strandedReason + `', 'l', '0',
        'c', '2', 'n', own)
      s, l, p, c, stranded = '4', '0', '` + strandedReason + `', '2', 1
    end
  elseif s == '4' and c == '2' and n == own then
    stranded = 1
  end
  local gs, hs = '', ''
  if s == '1' or s == '4' and c == '2' then
    gs = g or ''
    if c == '1' or c == '2' then
      hs = h or ''
    end
  end
  if f ~= ARGV[1] then
    return {3, s, f or '', l or '0', redis.call('PTTL', KEYS[1]), stranded, c or '', t or '', p or '', gs, hs}
  end
  if s ~= '1' then
    return {2, s, redis.call('PTTL', KEYS[1]), p or '', t or '', stranded, gs, hs}
  end
  took = 1
end
if not now then
  now = redis.call('TIME')
  ms = now[1] * 1000 + math.floor(now[2] / 1000)
end
local tok
if took == 1 then
  local lv, tv = tonumber(l), tonumber(t)
  if not lv or not tv then
    return {-1, v, s, 'lease or token'}
  end
  if lv > ms then
    if not w then
      redis.call('HSET', KEYS[1], 'w', '1')
    end
    return {4, l, redis.call('PTTL', KEYS[1]), t, c or '', g or '', c == '1' and h or ''}
  end
  tok = string.format('%.0f', math.max(tv + 1, now[1] * 1000000 + now[2]))
else
  tok = string.format('%d%06d', now[1], now[2])
end
local set = {'v', ARGV[4], 's', '1', 'f', ARGV[1], 't', tok, 'l', ms + ARGV[2], 'n', ARGV[5] .. ':' .. tok}
if ARGV[6] ~= '' or g then
  set[13], set[14] = 'g', ARGV[6]
end
if h then
  local k = #set
  set[k + 1], set[k + 2] = 'h', ''
end
redis.call('HSET', KEYS[1], unpack(set))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, tok, took}
`)

// readClaim opens every script that acts on a claim (r[5]: someone may
// wait for it, field w). held is true while
// KEYS[1] is in flight and held with the fencing token ARGV[1]; it is the
// one place the fencing rule is written. mine is true when the record is
// of this format and carries the token ARGV[1], in flight or final. r
// keeps state, token, version and commitment for the scripts' answers
// when it is not held.
const readClaim = `
local r = redis.call('HMGET', KEYS[1], 's', 't', 'v', 'c', 'w')
local mine = r[2] == ARGV[1] and r[3] == '` + FormatVersion + `'
local held = mine and r[1] == '1'
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

// commitScript: KEYS[1] record; ARGV token, signature (empty for none).
// Returns 1 when the claim held with token is (now, or already) committed,
// 0 when the claim is lost or no longer in flight. The signature is
// written (field h) only when there is one: an unsigned resend leaves a
// signed commitment as it is.
var commitScript = redis.NewScript(readClaim + `
if not held then
  return 0
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'c', '1', 'h', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'c', '1')
end
return 1
`)

// completeScript: KEYS[1] record; ARGV token, payload, ttl ms, state (2
// completed, 3 tombstone, 4 uncertain), the store's channel of ended
// claims (published to when a Begin found the claim in flight).
// Returns 1 when it stored the final record, 2 when a final record was
// already written with token (a resent Complete: it stays as it is), 0
// when the claim is lost. The uncertain record Begin made of the token's
// stranded claim is the exception: a completed record or a tombstone
// replaces it, since the claim's only run has finished after all.
var completeScript = redis.NewScript(readClaim + `
if not held then
  if not mine or not (r[1] == '2' or r[1] == '3' or r[1] == '4') then
    return 0
  end
  if r[1] ~= '4' or r[4] ~= '2' or ARGV[4] == '4' then
    return 2
  end
end
redis.call('HSET', KEYS[1], 's', ARGV[4], 'p', ARGV[2], 'l', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if r[5] then
  redis.call('PUBLISH', ARGV[5], KEYS[1])
end
return 1
`)

// releaseScript: KEYS[1] record; ARGV token, the store's channel of
// ended claims (as completeScript).
// Returns 1 when it deleted the claim (committed or not), 2 when there was
// no record (a resent Release, or a claim that expired), 0 when another
// token holds the record or it is final (or of an unknown format).
var releaseScript = redis.NewScript(readClaim + `
if not held then
  if r[1] or r[3] then
    return 0
  end
  return 2
end
redis.call('DEL', KEYS[1])
if r[5] then
  redis.call('PUBLISH', ARGV[2], KEYS[1])
end
return 1
`)

// resolveScript: KEYS[1] record; ARGV version, payload or nothing (ARGV[2]
// absent: delete), ttl ms.
// Returns 1 when it resolved the record, 0 when there is none, -1 when it
// is not resolvable (a live claim, an uncommitted claim, a completed
// record), {-2, version, state} for a record of an unknown format.
// Resolvable are a tombstone, an uncertain record, and a committed claim
// whose lease has expired by the server's clock. A completed record keeps
// the fingerprint and gets token 0 (see above).
var resolveScript = redis.NewScript(`
local r = redis.call('HMGET', KEYS[1], 'v', 's', 'c', 'l')
if not (r[1] or r[2]) then
  return 0
end
local s = r[2]
if r[1] ~= ARGV[1] or not (s == '1' or s == '2' or s == '3' or s == '4') then
  return {-2, r[1] or '', s or ''}
end
if s == '1' and r[3] == '1' then
  local now = redis.call('TIME')
  if (tonumber(r[4]) or 0) > now[1] * 1000 + math.floor(now[2] / 1000) then
    return -1
  end
elseif s ~= '3' and s ~= '4' then
  return -1
end
if #ARGV < 2 then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 's', '2', 'p', ARGV[2], 'l', '0', 't', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)
