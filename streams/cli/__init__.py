"""The `vendorwatch` command line, one module per command group. Nothing imports this package."""
