-- Every script starts with this: the app's keys, which redis.rs passes to
-- every script in this one order (`Keys::on`).
local state_key, version_key, tag_key, meta_key, history_key, channel,
  reservation_key, clicks_key, click_order_key = unpack(KEYS)
