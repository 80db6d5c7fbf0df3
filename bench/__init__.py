"""Benchmarks: scripts that start the product as real processes and print figures against targets."""
