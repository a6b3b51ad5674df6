"""The `inspector` command line: the same core functions the GUI calls."""
