"""Only the optional C extension lives here; everything else is in pyproject.toml.

``conciliador._camtscan`` speeds up camt.052/053/054 reading (plugins/banks/camt.py falls back to
lxml without it), so a failed compile (no C compiler, no expat.h) must not fail the install:
``optional=True``. A setup.py rather than ``[tool.setuptools] ext-modules`` because that table
needs setuptools >= 74 while the build requires setuptools >= 69.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("conciliador._camtscan", ["agent/_camtscan.c"], optional=True)])
