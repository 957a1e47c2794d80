# The conciliador conformance kit: fixtures, the conformance summary and --conciliador-report.
pytest_plugins = ["conciliador.testing"]
