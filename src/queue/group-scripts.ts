// Removing consumers from the group. XGROUP DELCONSUMER drops the consumer's pending entries with
// it, so it is only ever run atomically with the check that there are none: a consumer that has
// just read an entry would otherwise lose that task. A consumer with nothing pending loses nothing
// when removed, even a live one (its next read makes it again).

/**
 * KEYS stream; ARGV group, min idle ms, only (a consumer name, or '' for any), except (a name, or
 * ''). Removes every consumer that has nothing pending and has not tried to read for min idle ms
 * (XINFO's `idle`, which Redis 7.0 has; 7.2's `inactive` counts only successful reads and would
 * flag an idle but live reader). Returns the names removed: an executor leaving names itself
 * (`only`, idle 0); one pruning names itself as the one to keep (`except`).
 */
export const REMOVE_IDLE_CONSUMERS = `
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  local name = info['name']
  if (ARGV[3] == '' or name == ARGV[3]) and name ~= ARGV[4] and info['pending'] == 0 and info['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed[#removed + 1] = name
  end
end
return removed`;
