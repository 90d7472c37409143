-- wrk script: requests read from a list (bench/seed.py's request_list), shared out among threads.
--   wrk ... -s bench/requests.lua URL -- LIST THREADS [COUNT]
-- Without COUNT wrk runs for its -d duration, cycling through the list. With COUNT (one thread
-- only) the run ends after COUNT responses: wrk's main thread would otherwise sleep out -d, so
-- the thread interrupts it the way Ctrl-C does (with kill(2) itself: os.execute's system() would
-- ignore SIGINT while its shell runs). The last line is JSON for bench/wrk.py.

local ffi = require("ffi")
ffi.cdef [[int kill(int pid, int sig); int getpid(void);]]
local SIGINT = 2

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local requests, index, target = {}, 0, 0
seen, failed = 0, 0

local function counted(status, headers, body)
  seen = seen + 1
  if status ~= 200 then failed = failed + 1 end
  if seen == target then
    wrk.thread:stop()
    ffi.C.kill(ffi.C.getpid(), SIGINT)
  end
end

function init(args)
  local stride = tonumber(args[2])
  target = tonumber(args[3] or "0")
  local n = 0
  for line in io.lines(args[1]) do
    if n % stride == id then
      local path, auth, agent = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
      requests[#requests + 1] = wrk.format("GET", path, {["Authorization"] = auth, ["User-Agent"] = agent})
    end
    n = n + 1
  end
  if target > 0 then response = counted end -- wrk reads no bodies unless a response() is set
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests)
  local seen_all, failed_all = 0, 0
  for _, thread in ipairs(threads) do
    seen_all = seen_all + thread:get("seen")
    failed_all = failed_all + thread:get("failed")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "counted": %d, "counted_failed": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, seen_all, failed_all, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
