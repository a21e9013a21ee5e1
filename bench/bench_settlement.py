"""Benchmark: 30-line bills settled in-process on one core (the calculator alone).

A thin wrapper: the benchmark is ``medroam.bench.settlement`` (``medroam bench`` runs it
with the others). Options: ``--help``.
"""

from medroam.bench.settlement import main

if __name__ == "__main__":
    main()
