// The Lua scripts of sessions (README, "Sessions"). KEYS are one session's keys, hash-tagged with
// its id (protocol/keys.ts), so each script is atomic on Redis Cluster too. The record is a hash:
// state (open | ended), holder (the consumer that runs it), runtime, fixed (what the opening task
// fixed, JSON), opened / idleMs / lifetimeMs, reason and endedAt once ended.

/**
 * Route a task that names a session. KEYS record, cells, lease; ARGV me, now, runtime, idleMs,
 * lifetimeMs, leaseMs, fixed, raw task, may open ('0': an executor that holds a session already).
 * Returns:
 * - {'opened'}: the session did not exist; it is now open, held by me (my lease taken)
 * - {'absent'}: it did not exist, and I may not open it
 * - {'mine'}: I hold it already
 * - {'forwarded', holder}: another executor holds it; the task was appended to its cells stream
 * - {'ended', reason}: it has ended (ids are single-use)
 * - {'lost', holder}: its holder's lease lapsed; the session is now ended `executor_lost`
 */
export const ROUTE_SESSION = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  if ARGV[9] == '0' then return {'absent'} end
  redis.call('HSET', KEYS[1], 'state', 'open', 'holder', ARGV[1], 'runtime', ARGV[3], 'fixed', ARGV[7], 'opened', ARGV[2], 'idleMs', ARGV[4], 'lifetimeMs', ARGV[5], 'cells', '0')
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[6])
  return {'opened'}
end
if state == 'ended' then return {'ended', redis.call('HGET', KEYS[1], 'reason') or 'closed'} end
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder == ARGV[1] then return {'mine'} end
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'ended', 'reason', 'executor_lost', 'endedAt', ARGV[2])
  return {'lost', holder}
end
redis.call('XADD', KEYS[2], '*', 'task', ARGV[8])
return {'forwarded', holder}`;

/** KEYS record, lease; ARGV me, leaseMs. Renews my lease while the session is open and mine: 1, else 0. */
export const RENEW_LEASE = `
if redis.call('HGET', KEYS[1], 'state') ~= 'open' or redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1`;

/**
 * KEYS record, cells, lease; ARGV reason, now, ttlS, extra fields (name, value)... Ends an open
 * session (the first reason wins) and lets its keys expire. Returns the reason it ended with.
 */
export const END_SESSION = `
if redis.call('HGET', KEYS[1], 'state') == 'open' then
  redis.call('HSET', KEYS[1], 'state', 'ended', 'reason', ARGV[1], 'endedAt', ARGV[2])
end
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
redis.call('DEL', KEYS[3])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return redis.call('HGET', KEYS[1], 'reason')`;

/**
 * The direct route a client uses. KEYS record, cells; ARGV raw task. Appends the task to the
 * cells stream only while the session is open: {'queued', entry id}, else {'ended', reason} or
 * {'unknown'}.
 */
export const SUBMIT_CELL = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown'} end
if state ~= 'open' then return {'ended', redis.call('HGET', KEYS[1], 'reason') or 'closed'} end
return {'queued', redis.call('XADD', KEYS[2], '*', 'task', ARGV[1])}`;

/**
 * KEYS record, cells, lease; ARGV now, ttlS. Ends an open session whose holder's lease has lapsed
 * (`executor_lost`): 1 when it did, 0 when the session is not open or its lease is held.
 */
export const END_IF_LOST = `
if redis.call('HGET', KEYS[1], 'state') ~= 'open' or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'ended', 'reason', 'executor_lost', 'endedAt', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1`;
