-- One small, non-streaming chat completion per request. The API key comes from BENCH_KEY
-- (any string for the fake upstream, a gateway token for the runs through the gateway);
-- BENCH_HEADERS may add headers, one "Name: value" a line (the Portkey gateway's routing headers).
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello to the benchmark."}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "bench")
for name, value in string.gmatch(os.getenv("BENCH_HEADERS") or "", "([^:\n]+):%s*([^\n]*)") do
    wrk.headers[name] = value
end
