"""Command-line shell: parses input, builds config, calls the library. Nothing imports it."""
