-- wrk script: POST a small chat completion.  RATE (req/s for the whole run) and CONNS make
-- each connection pause between requests so the total rate is about RATE (wrk's delay()).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local stream = os.getenv("STREAM") == "1"
-- PROMPT_FILE: the user message is that file's text (JSON-escaped by the caller), else one sentence
local prompt = "Give me one short sentence about the sea."
local pf = os.getenv("PROMPT_FILE")
if pf and pf ~= "" then local f = assert(io.open(pf)); prompt = f:read("*a"); f:close() end
-- SYSTEM_FILE: the system message is that file's text (JSON-escaped by the caller)
local system = "You are a helpful assistant."
local sf = os.getenv("SYSTEM_FILE")
if sf and sf ~= "" then local f = assert(io.open(sf)); system = f:read("*a"); f:close() end
-- ANSWER_FILE: the answer the mock gives (its text on one line, sent as x-mock-content; the
-- model must forward x-mock-* headers), else its own short one
local af = os.getenv("ANSWER_FILE")
if af and af ~= "" then local f = assert(io.open(af)); wrk.headers["x-mock-content"] = f:read("*l"); f:close() end
local head = '{"model":"' .. (os.getenv("MODEL") or "gpt-4o-mini") .. '","messages":[{"role":"system","content":"' .. system .. '"},{"role":"user","content":"' .. prompt
local tail = '"}]' .. (stream and ',"stream":true' or '') .. '}'
wrk.body = head .. tail
-- VARY=1: every request's user message ends differently (" (request N)"), as real traffic's do,
-- so nothing that remembers whole user messages can serve it
if os.getenv("VARY") == "1" then
  local n = 0
  function request()
    n = n + 1
    return wrk.format(nil, nil, nil, head .. " (request " .. n .. ")" .. tail)
  end
end

local rate = tonumber(os.getenv("RATE") or "0")
local conns = tonumber(os.getenv("CONNS") or "1")
function delay()
  if rate > 0 then return conns * 1000 / rate end
  return 0
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d non2xx=%d requests=%d\n",
    summary.requests / secs, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests))
end
