-- wrk script for bench/load.py --client wrk: POST /v1/verify with the benchmark's answer.
--
-- The answer is read from the file named by DOCVOUCH_LOAD_ANSWER. With
-- DOCVOUCH_LOAD_WORKLOAD=distinct (the default) every request starts with its own
-- "Variant <run>-<thread>-<n>." line, as the Python client's distinct answers do
-- (DOCVOUCH_LOAD_RUN must differ between runs against one server, or a second run would
-- repeat the first one's answers and be served by the result cache); with "cached"
-- the same body is sent every time. done() prints one line "DOCVOUCH-LOAD {json}" with the
-- status counts, latency percentiles (microseconds) and the engine's time of every answer a
-- worker computed (milliseconds, from Server-Timing) that load.py reads.

local threads = {}
local counter = 0
local prefix_json, suffix_json

local function json_string(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    return string.format("\\u%04x", c:byte())
  end)
  return s
end

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("DOCVOUCH_LOAD_ANSWER")
  local file = assert(io.open(path, "rb"), "DOCVOUCH_LOAD_ANSWER must name a readable file")
  local answer = file:read("*a")
  file:close()
  distinct = (os.getenv("DOCVOUCH_LOAD_WORKLOAD") or "distinct") == "distinct"
  run = os.getenv("DOCVOUCH_LOAD_RUN") or tostring(os.time())
  prefix_json = '{"source":{"site":"bench"},"text":"'
  suffix_json = json_string(answer) .. '"}'
  statuses = {}
  engine = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = prefix_json .. suffix_json
end

function request()
  if not distinct then
    return wrk.format()
  end
  counter = counter + 1
  local body = prefix_json .. "Variant " .. run .. "-" .. id .. "-" .. counter .. ".\\n\\n" ..
    suffix_json
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local timing = headers["Server-Timing"]
  if status == 200 and timing and timing:find('desc="miss"', 1, true) then
    local dur = tonumber(timing:match("engine;dur=([%d%.]+)"))
    if dur then
      engine[#engine + 1] = dur
    end
  end
end

function done(summary, latency, requests)
  local counts = {}
  local engine_ms = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    for status, n in pairs(seen) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + n
    end
    for _, dur in ipairs(thread:get("engine")) do
      engine_ms[#engine_ms + 1] = dur
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%s":%d', status, n))
  end
  local errors = summary.errors
  io.write(string.format(
    'DOCVOUCH-LOAD {"requests":%d,"duration_us":%d,"statuses":{%s},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d,"engine_ms":[%s]}\n',
    summary.requests, summary.duration, table.concat(parts, ","),
    errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max,
    table.concat(engine_ms, ",")))
end
