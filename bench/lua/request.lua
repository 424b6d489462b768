-- One fixed request, for the baseline and the simple scenarios. Environment: METHOD (GET), PATH_ (path),
-- BODY (optional JSON), ROOT_KEY (sent as a bearer key when set), EXPECT (a status, default 200).
local method = os.getenv("METHOD") or "GET"
local path = os.getenv("PATH_") or "/api/v1/health"
local body = os.getenv("BODY")
local root = os.getenv("ROOT_KEY")
local expect = tonumber(os.getenv("EXPECT") or "200")
local headers = {}
if root and #root > 0 then headers["Authorization"] = "Bearer " .. root end
if body then headers["Content-Type"] = "application/json" end
local threads = {}

setup = function(thread) table.insert(threads, thread) end

request = function() return wrk.format(method, path, headers, body) end

unexpected = 0
response = function(status, headers, body)
  if status ~= expect then
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
