"""Inquest: finds the root cause of production incidents."""

__version__ = "0.1.0"
