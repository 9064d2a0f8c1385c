"""The DARTS search space: operations, genotypes, the supernet and cell networks."""

from .genotype import Genotype, derive_genotype, load_genotype
from .ops import PRIMITIVES

__all__ = ["Genotype", "derive_genotype", "load_genotype", "PRIMITIVES"]
