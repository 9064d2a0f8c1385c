"""unnas: neural architecture search without labels.

The core package holds search spaces, the search loop, data readers, the training engine,
studies and the command line. Tasks live in the sibling package ``pretext`` and evaluation
networks in ``eval``.
"""

__version__ = "0.1.0"
