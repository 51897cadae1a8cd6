-- bench/serve_events.lua: wrk script posting batches of events to
-- /v1/events as fast as the server takes them (bench/bench_serve_ingest.sh).
-- Each request is BATCH impressions (default 4000) as JSON lines, with
-- event ids never used before (so every event is applied, none is a
-- duplicate) and ts = now. A 503 (queue full) is honoured: that connection
-- waits Retry-After seconds before its next batch.
-- Environment: BATCH, USERS, ADS, SITES (id ranges of the simulator),
-- ID_BASE (first event id; give each run its own).
local batch = tonumber(os.getenv("BATCH") or "4000")
local n_users = tonumber(os.getenv("USERS") or "10000")
local n_ads = tonumber(os.getenv("ADS") or "2000")
local n_sites = tonumber(os.getenv("SITES") or "500")
local devices = {"mobile", "desktop", "tablet", "ctv"}
local tails = {}
local next_id = 0
local backoff = 0
local thread_no = 0

-- the part of each line after its ids, built once
math.randomseed(7)
for i = 1, batch do
  tails[i] = string.format(
    ',"user_id":%d,"ad_id":%d,"site_id":%d,"device":"%s","position":%d}',
    math.random(0, n_users - 1), math.random(0, n_ads - 1), math.random(0, n_sites - 1),
    devices[math.random(1, 4)], math.random(1, 4))
end

setup = function(thread)
  thread_no = thread_no + 1
  thread:set("id_base", tonumber(os.getenv("ID_BASE") or "1000000000") + thread_no * 100000000000)
end

init = function(args)
  next_id = id_base
end

request = function()
  local now = os.time() * 1000
  local lines = {}
  for i = 1, batch do
    next_id = next_id + 1
    local id = string.format("%.0f", next_id) -- ids stay below 2^53
    lines[i] = '{"type":"impression","event_id":' .. id .. ',"impression_id":' .. id ..
               ',"ts":' .. string.format("%.0f", now) .. tails[i]
  end
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/x-ndjson"},
                    table.concat(lines, "\n") .. "\n")
end

delay = function()
  local d = backoff
  backoff = 0
  return d
end

response = function(status, headers, body)
  if status == 503 then
    backoff = 1000 * tonumber(headers["Retry-After"] or "1")
  elseif status ~= 200 then
    io.stderr:write("events status " .. status .. ": " .. body .. "\n")
  end
end
