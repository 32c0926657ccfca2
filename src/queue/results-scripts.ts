// The Lua scripts that keep "one task, one run, one answer" (see results-writer.ts). All the
// keys of a task hash to one slot (answeredKey and claimKey carry the results key as their hash
// tag), so each script is atomic on Redis Cluster too.
//
// claim    `<entry id> <attempt>`: which stream entry holds the id, and its newest attempt that
//          started; set by BEGIN, read by every later write of that attempt (the fence)
// answered `<entry id> <attempt> <executor>`: the id has its one final answer
// written  `<entry id> <attempt> <n>`: the last numbered output or file write of that attempt

/** KEYS results, answered, claim; ARGV entry, attempt, claimTtlS, runningTtlS, started fields... */
export const BEGIN = `
local a = redis.call('GET', KEYS[2])
if a then
  if string.sub(a, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then return 'answered-self' end
  return 'answered'
end
local c = redis.call('GET', KEYS[3])
if c then
  local sp = string.find(c, ' ', 1, true)
  if string.sub(c, 1, sp - 1) ~= ARGV[1] then return 'running' end
  if tonumber(string.sub(c, sp + 1)) >= tonumber(ARGV[2]) then return 'stale' end
end
redis.call('SET', KEYS[3], ARGV[1] .. ' ' .. ARGV[2], 'EX', ARGV[3])
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 5))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 'ok'`;

/**
 * KEYS results, claim, written, answered; ARGV claim value, sequence number, ttlS, entry fields...
 * Appends only while the claim is ours and the id has no answer (a session's cell answered by
 * whoever saw its executor's lease lapse, while that executor still ran it), and each numbered
 * write of an attempt at most once:
 * `written` holds `<claim value> <last sequence number>`, so a write re-sent after a lost reply
 * (ioredis re-sends unanswered commands when it reconnects) is acknowledged, not appended again.
 */
export const FENCED_XADD = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local w = redis.call('GET', KEYS[3])
local prefix = ARGV[1] .. ' '
if w and string.sub(w, 1, #prefix) == prefix and tonumber(string.sub(w, #prefix + 1)) >= tonumber(ARGV[2]) then return 1 end
redis.call('SET', KEYS[3], prefix .. ARGV[2], 'EX', ARGV[3])
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
return 1`;

/**
 * KEYS results, answered, claim; ARGV result JSON (an object), ttlS, entry ('' = none known),
 * attempt that ran ('' = answered without a run), executor, delivery count, extra fields...
 * The answer records which attempt it answers: the one that ran, or else the newest that started
 * for this entry, or else the delivery count.
 */
export const ANSWER = `
local a = redis.call('GET', KEYS[2])
if a then
  if ARGV[3] ~= '' and string.sub(a, 1, #ARGV[3] + 1) == ARGV[3] .. ' ' then return 'answered-self' end
  return 'answered'
end
local attempt = ARGV[4]
local c = redis.call('GET', KEYS[3])
if c and ARGV[3] ~= '' then
  local sp = string.find(c, ' ', 1, true)
  if string.sub(c, 1, sp - 1) ~= ARGV[3] then return 'running' end
  local newest = string.sub(c, sp + 1)
  if attempt ~= '' and newest ~= attempt then return 'stale' end
  if attempt == '' then attempt = newest end
end
if attempt == '' then attempt = ARGV[6] end
local result = string.sub(ARGV[1], 1, -2) .. ',"attempt":' .. attempt .. '}'
redis.call('SET', KEYS[2], ARGV[3] .. ' ' .. attempt .. ' ' .. ARGV[5], 'EX', ARGV[2])
redis.call('XADD', KEYS[1], '*', 'type', 'exit', 'result', result, 'attempt', attempt, unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[1], ARGV[2])
if c then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
return 'written'`;
