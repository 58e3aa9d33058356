"""Measurements against the live HTTP endpoints: accuracy under corruption, latency and throughput."""
