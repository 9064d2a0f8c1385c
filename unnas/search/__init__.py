"""Architecture search strategies. Today: first-order bilevel DARTS (:mod:`unnas.search.darts`)."""

from .darts import DartsSearch, SearchResult, search

__all__ = ["DartsSearch", "SearchResult", "search"]
