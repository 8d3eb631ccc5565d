-- wrk -s inject_load.lua URL -- PREFIX: GET PREFIX<id>?size=..&conn=..[&tp=1][&chunked=1]
-- for test_inject.sh: ids unique in the run; inject_app.py A calls B with a
-- body of that size (0, 100, 1500 or 5000 bytes: over 1 KiB and over 4 KiB),
-- over a new or a kept-alive connection, some with their own traceparent,
-- some chunked (over kept-alive connections: the requests after them must be
-- found too).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("th", threads)
end
local prefix = "/"
function init(args)
  prefix = args[1] or "/"
end
local sizes = { 0, 100, 1500, 5000, 0 }
local n = 0
function request()
  n = n + 1
  local id = th * 1000000 + n
  local q = "?size=" .. sizes[n % 5 + 1]
  if n % 13 == 5 then
    q = q .. "&conn=keep&chunked=1"
  elseif n % 2 == 0 then
    q = q .. "&conn=keep"
  else
    q = q .. "&conn=new"
  end
  if n % 10 == 3 then
    q = q .. "&tp=1"
  end
  return wrk.format("GET", prefix .. id .. q)
end
