-- Writes back a state Redis lost (`RedisStore::restore` says when).
local version, state, app_meta, tag, history_kept = unpack(ARGV)

local meta = redis.call('GET', meta_key)
if meta and meta ~= app_meta then
  return 0
end
local current = redis.call('GET', version_key)
if current and redis.call('EXISTS', state_key) == 1 then
  -- decimal strings without leading zeros compare by length, then bytes
  if #current > #version or (#current == #version and current >= version) then
    return 0
  end
end
redis.call('SET', meta_key, app_meta)
write(state, version, tag, history_kept)
return 1
