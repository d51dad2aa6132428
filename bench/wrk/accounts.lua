-- GET /v1/financial-accounts/{id} over a random account of the list in $BENCH_ACCOUNTS_FILE
-- (one id a line). Authorization and Monime-Space-Id come from the command line (-H).
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

local ids = {}
for line in io.lines(os.getenv("BENCH_ACCOUNTS_FILE")) do
  if #line > 0 then ids[#ids + 1] = line end
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

function request()
  return wrk.format("GET", "/v1/financial-accounts/" .. ids[math.random(#ids)])
end
