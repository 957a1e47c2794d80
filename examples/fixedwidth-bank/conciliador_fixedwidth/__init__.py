"""conciliador plugin for the FWB1 fixed-width bank statement layout (see README.md)."""

__version__ = "0.1.0"
