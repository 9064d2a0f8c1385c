"""Sample-based rank-correlation studies: sampling plans, rank statistics, plots and reports.

Submodules are imported on demand (plots pull in matplotlib, proxies pull in torch models).
"""
