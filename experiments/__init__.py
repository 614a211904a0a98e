"""The command line, episode runner and benchmarks."""
