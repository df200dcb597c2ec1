-- The compare-and-set (`RedisStore::commit` says what it answers).
local base, state, next_version, token, reserve, reservation_ms, size,
  base_tag, app_meta, history_kept, click_id, click_answer, clicks_kept = unpack(ARGV)

-- the reservation: a string expiring within reservation_ms, or not ours
local kind = redis.call('TYPE', reservation_key).ok
local holder = false
if kind == 'string' then
  local ttl = redis.call('PTTL', reservation_key)
  if ttl >= 0 and ttl <= tonumber(reservation_ms) then
    holder = redis.call('GET', reservation_key)
  end
end
if not holder and kind ~= 'none' then
  redis.call('DEL', reservation_key)
end
if holder and holder ~= token then
  return {2, '', '', ''}
end
local mt = redis.call('TYPE', meta_key).ok
if mt ~= 'none' and (mt ~= 'string' or redis.call('GET', meta_key) ~= app_meta) then
  return {3, '', '', ''}
end
-- the clicks' answers and their order, or neither: anything else (damage)
-- goes now, before anything is written, since a script that fails after
-- write() keeps what it wrote and its caller would be told nothing changed
local order_type = redis.call('TYPE', click_order_key).ok
if redis.call('TYPE', clicks_key).ok ~= 'hash'
    or (order_type ~= 'list' and order_type ~= 'none') then
  redis.call('DEL', clicks_key, click_order_key)
end
if click_id ~= '' then
  local answer = redis.call('HGET', clicks_key, click_id)
  if answer then
    return {4, '', answer, ''}
  end
end
local current = redis.call('GET', version_key)
local tag = tag_of(tag_key)
if current ~= base or tag ~= base_tag then
  if reserve == '1' then
    redis.call('SET', reservation_key, token, 'PX', reservation_ms)
  end
  local held = ''
  if redis.call('STRLEN', state_key) == tonumber(size) then
    held = redis.call('GET', state_key)
  end
  if not current or #current > 20 then
    current = ''
  end
  return {0, current, held, tag}
end
write(state, next_version, token, history_kept)
if holder then
  redis.call('DEL', reservation_key)
end
if click_id ~= '' then
  redis.call('HSET', clicks_key, click_id, click_answer)
  redis.call('LPUSH', click_order_key, click_id)
  while redis.call('LLEN', click_order_key) > tonumber(clicks_kept) do
    redis.call('HDEL', clicks_key, redis.call('RPOP', click_order_key))
  end
end
return {1, next_version, '', ''}
