"""The `cao` command line: one module per command group, registered in cao.cli.main."""
