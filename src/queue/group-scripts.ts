// Removing consumers from the group. XGROUP DELCONSUMER drops the consumer's pending entries with
// it, so it is only ever run atomically with the check that there are none: a consumer that has
// just read an entry would otherwise lose that task. A consumer with nothing pending loses nothing
// when removed, even a live one (its next read makes it again).

/**
 * KEYS stream; ARGV group, consumer. Removes the consumer when it exists and has nothing pending:
 * 1, else 0 (DELCONSUMER alone answers 0 for a consumer that was never there).
 */
export const REMOVE_IF_IDLE = `
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['name'] == ARGV[2] then
    if info['pending'] > 0 then return 0 end
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
    return 1
  end
end
return 0`;

/**
 * KEYS stream; ARGV group, min idle ms, own name. Removes every other consumer with nothing
 * pending that has not tried to read for min idle ms (XINFO's \`idle\`, which Redis 7.0 has; 7.2's
 * \`inactive\` counts only successful reads and would flag an idle but live reader). Returns the
 * names removed.
 */
export const PRUNE_DEAD = `
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['name'] ~= ARGV[3] and info['pending'] == 0 and info['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed[#removed + 1] = info['name']
  end
end
return removed`;
