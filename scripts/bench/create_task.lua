-- POST /api/v1/actions with create_task and "approve": true: propose, policy at proposal and at
-- approval, execute, three audit rows, one transaction per request.
local token = os.getenv("HEIMDELL_BENCH_TOKEN")
local i = 0
request = function()
  i = i + 1
  local body = '{"tool":"create_task","approve":true,"args":{"title":"Bench task ' .. i .. '","due_at":"2030-01-02T15:00:00Z"}}'
  return wrk.format("POST", "/api/v1/actions", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
response = function(status, headers, body)
  if status ~= 200 then error("unexpected status " .. status .. ": " .. body) end
end
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("requests: %d  errors: %d  rate: %.0f req/s  p50: %.2f ms  p95: %.2f ms  p99: %.2f ms\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
