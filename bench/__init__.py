"""The benchmark (`python bench/run_bench.py`): see run_bench.py and docs/performance.md."""
