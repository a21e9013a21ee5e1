"""Benchmark: CHS-DRG 1.1 cases grouped per second, in-process on one core.

A thin wrapper: the benchmark is ``medroam.bench.drg`` (``medroam bench`` runs it
with the others). Options: ``--help``.
"""

from medroam.bench.drg import main

if __name__ == "__main__":
    main()
