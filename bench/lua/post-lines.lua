-- POSTs JSON bodies read from a file, one per line, to PATH_, each thread walking the file from its own offset.
-- Environment: BODIES_FILE, PATH_, ROOT_KEY (the caller's credential), EXPECT (a string every 200 answer must
-- contain, default "allowed").
local bodies = {}
for line in io.lines(os.getenv("BODIES_FILE")) do
  if #line > 0 then bodies[#bodies + 1] = line end
end
local root = os.getenv("ROOT_KEY")
local path = os.getenv("PATH_")
local expect = os.getenv("EXPECT") or '"allowed"'
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
  return wrk.format("POST", path, { ["Authorization"] = "Bearer " .. root, ["Content-Type"] = "application/json" },
    bodies[((offset + index) % #bodies) + 1])
end

unexpected = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, expect, 1, true) then
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
