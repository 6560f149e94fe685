"""One module per CLI command; each has `main(args) -> int` and builds its own argparse parser."""
