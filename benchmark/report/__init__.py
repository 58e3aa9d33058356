"""The human-readable report of one benchmark run: index.html and summary.md with tables and plots."""
