from benchmarks import cost_bench

raise SystemExit(cost_bench.main())
