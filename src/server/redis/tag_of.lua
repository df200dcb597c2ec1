-- The history tag at `key`, or '' unless it is a short string of token
-- characters (what commits write: digits, letters, '-' and ':'), so that a
-- damaged tag is read and compared the same way everywhere.
local function tag_of(key)
  if redis.call('TYPE', key).ok ~= 'string' or redis.call('STRLEN', key) > 64 then
    return ''
  end
  local tag = redis.call('GET', key)
  if string.find(tag, '^[%w%-:]*$') then
    return tag
  end
  return ''
end
