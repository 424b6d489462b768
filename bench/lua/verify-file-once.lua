-- POST /api/v1/keys/verify with each key of $KEYS_FILE exactly once, in order, then stop: wrk ends as soon
-- as every key has been answered (give it a long -d as a safety cap), and `seconds` is the time that took.
-- Run it with one thread (-t1; any number of connections). Once the keys run out, the connections still
-- waiting for their turn ask GET /api/v1/health, which is not counted. The RESULT line counts the keys
-- answered and the answers that were not 200 VALID (`unexpected`).
-- Environment: KEYS_FILE (one key per line), ROOT_KEY (a key with keys:verify).
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if #line > 0 then keys[#keys + 1] = line end
end
local root = os.getenv("ROOT_KEY")
local headers = { ["Authorization"] = "Bearer " .. root, ["Content-Type"] = "application/json" }
local filler = wrk.format("GET", "/api/v1/health")
local threads = {}

setup = function(thread) table.insert(threads, thread) end

-- wrk calls request() once before the run on the first thread's state only to check it, and throws that
-- request away; so the first call of each thread answers the filler, and no key is lost either way.
local sent = 0
local first = true
request = function()
  if first or sent >= #keys then
    first = false
    return filler
  end
  sent = sent + 1
  return wrk.format("POST", "/api/v1/keys/verify", headers, '{"key":"' .. keys[sent] .. '"}')
end

answered = 0
unexpected = 0
response = function(status, headers, body)
  if string.find(body, '"code"', 1, true) == nil and status == 200 then return end  -- the filler
  answered = answered + 1
  if status ~= 200 or not string.find(body, '"VALID"', 1, true) then
    unexpected = unexpected + 1
    if unexpected <= 3 then io.stderr:write("unexpected answer " .. status .. ": " .. body .. "\n") end
  end
  if answered >= #keys then
    wrk.thread:stop()
    -- wrk itself sleeps for the whole -d; SIGINT (what Ctrl-C sends) wakes it to print its summary now. From
    -- the background: os.execute ignores SIGINT in wrk until the command returns.
    os.execute("(sleep 0.05; kill -INT $PPID) &")
  end
end

done = function(summary, latency, requests)
  local count, bad = 0, 0
  for _, thread in ipairs(threads) do
    count = count + thread:get("answered")
    bad = bad + thread:get("unexpected")
  end
  io.write(string.format("RESULT keys=%d requests=%d seconds=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d unexpected=%d\n",
    count, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, bad))
end
