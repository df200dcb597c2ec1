-- The first start (`RedisStore::open` says when it writes).
local initial, app_meta = unpack(ARGV)

if redis.call('EXISTS', state_key) == 0 and redis.call('EXISTS', version_key) == 0 then
  redis.call('SET', meta_key, app_meta, 'NX')
  redis.call('SET', state_key, initial)
  redis.call('SET', version_key, '0')
  redis.call('SET', tag_key, 'seed')
  redis.call('DEL', history_key)
  redis.call('LPUSH', history_key, '0 seed')
  return 1
end
return 0
