"""Batch computations written once against Ibis, run on SQLite, PostgreSQL and DuckDB.

``lines`` defines the flat input (clearing lines) and the view that builds it from the
operational tables; ``clearing`` the set computations of a clearing run; ``engine`` runs
an expression on a SQLAlchemy connection (inside the caller's transaction) or on DuckDB.
"""
