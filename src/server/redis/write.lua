-- Puts a version in Redis: its state, version and tag; the history keeps
-- the last `keep` 'VERSION TAG' pairs, newest first (a history that is not
-- a list goes); the channel hears the version.
local function write(state, version, tag, keep)
  redis.call('SET', state_key, state)
  redis.call('SET', version_key, version)
  redis.call('SET', tag_key, tag)
  if redis.call('TYPE', history_key).ok ~= 'list' then
    redis.call('DEL', history_key)
  end
  redis.call('LPUSH', history_key, version .. ' ' .. tag)
  redis.call('LTRIM', history_key, 0, tonumber(keep) - 1)
  redis.call('PUBLISH', channel, version)
end
