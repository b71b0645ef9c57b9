"""Benchmarks: Calcifer against a fast fake upstream, directly and through the gateway."""
