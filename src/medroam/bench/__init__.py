"""Benchmarks as importable functions (``medroam bench`` runs them all; the scripts in
``bench/`` are thin wrappers). They print figures and never fail on speed: a benchmark
is not a test."""
