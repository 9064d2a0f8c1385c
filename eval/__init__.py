"""Evaluation: heads, networks built from genotypes, and metrics."""
