"""The `koncept` command line: one module per subcommand."""
