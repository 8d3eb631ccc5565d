-- wrk script for bench.sh's fixed-rate workload. wrk (unlike wrk2, which
-- Debian does not ship) has no rate option: this script paces requests
-- itself. Each wrk thread hands out send slots spaced 1/(BENCH_RATE /
-- BENCH_THREADS) apart; before each request a connection takes the next slot
-- and delay() makes it wait until then (wrk's timers have 1 ms resolution, so
-- requests go out in small bursts, never early). With enough connections the
-- long-run rate is BENCH_RATE; if the server falls behind, at most 10 ms of
-- missed slots are made up, the rest is dropped, and the achieved rate (which
-- bench.sh reports) is lower.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local CLOCK_MONOTONIC = 1

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local rate = tonumber(os.getenv("BENCH_RATE") or "20000")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local interval = 1000 * threads / rate -- ms between two slots of this thread
local next_slot

function delay()
  local t = now_ms()
  if not next_slot or next_slot < t - 10 then
    next_slot = t
  end
  local slot = next_slot
  next_slot = slot + interval
  local d = slot - t
  if d <= 0 then
    return 0
  end
  return math.ceil(d)
end
