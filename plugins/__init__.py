"""Built-in plugins: bank formats and ERP connectors, loaded like third-party ones."""
