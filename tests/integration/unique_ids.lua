-- wrk -s unique_ids.lua URL -- PREFIX: GET PREFIX<thread>-<n>, a path no other
-- request of the run has (test_traces*.sh follow each id through the spans).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tp", "t" .. threads)
end
local prefix = "/"
function init(args)
  prefix = args[1] or "/"
end
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", prefix .. tp .. "-" .. n)
end
