-- What Redis holds (`RedisStore::held` says what it answers).
local size, pair = unpack(ARGV)

local vt = redis.call('TYPE', version_key).ok
local st = redis.call('TYPE', state_key).ok
local version = ''
if vt == 'string' then
  if redis.call('STRLEN', version_key) <= 20 then
    version = redis.call('GET', version_key)
  else
    version = '(longer than 20 bytes)'
  end
end
local length = -1
local state = ''
if st == 'string' then
  length = redis.call('STRLEN', state_key)
  if length == tonumber(size) then
    state = redis.call('GET', state_key)
  end
end
local meta = ''
local mt = redis.call('TYPE', meta_key).ok
if mt == 'string' and redis.call('STRLEN', meta_key) <= 256 then
  meta = redis.call('GET', meta_key)
elseif mt == 'string' then
  meta = '(a string of ' .. redis.call('STRLEN', meta_key) .. ' bytes)'
elseif mt ~= 'none' then
  meta = '(a Redis ' .. mt .. ')'
end
-- whether `pair` (a version and tag) is in the history, and the oldest
-- version it holds
local known = 0
local oldest = ''
if redis.call('TYPE', history_key).ok == 'list' then
  if redis.call('LPOS', history_key, pair) then
    known = 1
  end
  local last = redis.call('LINDEX', history_key, -1)
  if last and #last <= 100 then
    oldest = last
  end
end
return {vt, version, st, length, state, tag_of(tag_key), meta, known, oldest}
