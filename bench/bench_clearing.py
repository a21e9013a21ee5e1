"""Benchmark: clear one national month of synthetic cross-region settlements on DuckDB.

A thin wrapper: the benchmark is ``medroam.bench.clearing`` (``medroam bench`` runs it
with the others). Options: ``--help``.
"""

from medroam.bench.clearing import main

if __name__ == "__main__":
    main()
