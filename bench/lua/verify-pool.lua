-- POST /api/v1/keys/verify over a pool of keys, each thread walking the pool from its own offset, so
-- requests spread over many keys (and rate-limit subjects) as real traffic does.
-- Environment: KEYS_FILE (one key per line), ROOT_KEY (a key with keys:verify), EXPECT (code, default VALID;
-- `any` accepts every 200).
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if #line > 0 then keys[#keys + 1] = line end
end
local root = os.getenv("ROOT_KEY")
local expect = '"' .. (os.getenv("EXPECT") or "VALID") .. '"'
local threads = {}
local counter = 1

setup = function(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
  table.insert(threads, thread)
end

local index = 0
request = function()
  index = index + 1
  local key = keys[((offset + index) % #keys) + 1]
  return wrk.format("POST", "/api/v1/keys/verify",
    { ["Authorization"] = "Bearer " .. root, ["Content-Type"] = "application/json" },
    '{"key":"' .. key .. '"}')
end

unexpected = 0
response = function(status, headers, body)
  if status ~= 200 or (expect ~= '"any"' and not string.find(body, expect, 1, true)) then
    unexpected = unexpected + 1
    if unexpected <= 3 then io.stderr:write("unexpected answer " .. status .. ": " .. body .. "\n") end
  end
end

done = function(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("unexpected") end
  io.write(string.format("RESULT requests=%d seconds=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d unexpected=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, bad))
end
