-- bench/serve_predict.lua: wrk script for POST /v1/predict (bench/bench_serve.sh).
-- Each request ranks CANDIDATES ads (default 100) for one user; the bodies
-- are built once at start (16 of them, rotating) so wrk's own CPU goes to
-- the connection, not to building JSON.
-- Environment: CANDIDATES, USERS, ADS, SITES (id ranges of the simulator).
local n_cand = tonumber(os.getenv("CANDIDATES") or "100")
local n_users = tonumber(os.getenv("USERS") or "10000")
local n_ads = tonumber(os.getenv("ADS") or "2000")
local n_sites = tonumber(os.getenv("SITES") or "500")
local devices = {"mobile", "desktop", "tablet", "ctv"}
local bodies = {}
local next_body = 0

math.randomseed(42)
for b = 1, 16 do
  local c = {}
  for i = 1, n_cand do
    c[i] = string.format('{"ad_id":%d}', math.random(0, n_ads - 1))
  end
  bodies[b] = string.format(
    '{"user_id":%d,"context":{"site_id":%d,"device":"%s","position":%d},"candidates":[%s]}',
    math.random(0, n_users - 1), math.random(0, n_sites - 1), devices[math.random(1, 4)],
    math.random(1, 4), table.concat(c, ","))
end

request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/v1/predict", {["Content-Type"] = "application/json"},
                    bodies[next_body])
end

response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. ": " .. body .. "\n")
  end
end

done = function(summary, latency, requests)
  -- wrk's --latency table stops at 99%: the tail beyond, in microseconds
  io.write(string.format("p99.9_us %d max_us %d\n", latency:percentile(99.9), latency.max))
end
