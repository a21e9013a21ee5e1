"""A small HIS client of the national interface (tests, examples, the simulator)."""

from medroam.client.his import CallError, HisClient, parse_answer

__all__ = ["CallError", "HisClient", "parse_answer"]
