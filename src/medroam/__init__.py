"""medroam: cross-region medical insurance direct settlement and clearing."""

__version__ = "0.1.0"
