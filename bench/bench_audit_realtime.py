"""Benchmark: CPU per 30-line bill of the real-time audit (事中).

A thin wrapper: the benchmark is ``medroam.bench.audit_realtime``. Options: ``--help``.
"""

from medroam.bench.audit_realtime import main

if __name__ == "__main__":
    main()
