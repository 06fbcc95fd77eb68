"""Benchmarks (`make bench`): each prints one JSON line with its value and a baseline
measured in the same run, because this machine is shared and noisy: compare ratios."""
