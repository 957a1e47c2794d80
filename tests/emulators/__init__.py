"""Emulators of the systems conciliador talks to, served over real HTTP on 127.0.0.1 for tests and benchmarks."""
