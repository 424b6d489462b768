-- POST /api/v1/keys/verify with each key of $KEYS_FILE in turn: against a freshly started server every
-- request is a cache miss, as long as the run makes fewer requests than there are keys (the RESULT line
-- says `wrapped=1` otherwise). Run it with one thread so the keys are taken in order.
-- Environment: KEYS_FILE (one key per line), ROOT_KEY (a key with keys:verify).
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if #line > 0 then keys[#keys + 1] = line end
end
local root = os.getenv("ROOT_KEY")
local next_key = 0

request = function()
  next_key = next_key + 1
  local key = keys[((next_key - 1) % #keys) + 1]
  return wrk.format("POST", "/api/v1/keys/verify",
    { ["Authorization"] = "Bearer " .. root, ["Content-Type"] = "application/json" },
    '{"key":"' .. key .. '"}')
end

response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"VALID"', 1, true) then
    io.stderr:write("unexpected answer " .. status .. ": " .. body .. "\n")
  end
end

done = function(summary, latency, requests)
  local count = 0
  for line in io.lines(os.getenv("KEYS_FILE")) do
    if #line > 0 then count = count + 1 end
  end
  io.write(string.format("RESULT wrapped=%d requests=%d seconds=%.3f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests > count and 1 or 0,
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
