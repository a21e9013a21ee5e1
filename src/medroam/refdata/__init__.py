"""Loaders for the packaged reference data (``medroam/data``), validated on load.

Loaders are adapters: they read files, validate them (errors name the file and the
field) and hand plain domain values to the rest of the system.
"""
