"""The `vitc` command line: one module per subcommand under `commands/`."""
