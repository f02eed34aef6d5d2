-- GET /api/v1/contacts?q=<name fragment>, rotating through fragments people type.
local fragments = { "smi", "john", "ann", "lee", "mar", "son", "ber", "kim", "ols", "dav", "chr", "eli", "ras", "han", "nie" }
local token = os.getenv("HEIMDELL_BENCH_TOKEN")
local i = 0
request = function()
  i = i + 1
  local q = fragments[(i % #fragments) + 1]
  return wrk.format("GET", "/api/v1/contacts?q=" .. q .. "&limit=25", { ["Authorization"] = "Bearer " .. token })
end
response = function(status, headers, body)
  if status ~= 200 then error("unexpected status " .. status) end
end
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("requests: %d  errors: %d  rate: %.0f req/s  p50: %.2f ms  p95: %.2f ms  p99: %.2f ms\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
