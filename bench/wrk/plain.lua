-- The same request over and over (headers from the command line), plus the harness's report.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")
