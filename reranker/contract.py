"""The wire contract, defined once: what ``ext.divrank`` and ``POST /v1/rerank`` accept.

The sidecar's schemas, the client-side hook, the pipeline CLI and the ranking core read these
names from here; the Java plugin spells them in ``Strategy.java`` and ``DivrankSearchExt.java``,
and ``tests/unit/test_wire_contract.py`` fails when the two sides disagree.
"""

from __future__ import annotations

__all__ = ["DEFAULT_DIVERSITY", "MAX_HISTORY", "MAX_WINDOW", "STRATEGIES"]

# knobs.strategy / ext.divrank.strategy, in the plugin's enum order
STRATEGIES = ("engine", "personalized", "mmr", "dpp", "fusion")
# hits one request re-ranks (ext.divrank.window_size, the pipeline's window_size)
MAX_WINDOW = 1000
# inline history item ids (or vectors) one request may carry
MAX_HISTORY = 500
# knobs.diversity when a request (or the pipeline's default_diversity) leaves it out: the point
# Home Depot validation chose for BM25 candidates with the shipped relevance model (hybrid 0.30,
# k-NN 0.45, the live pipeline 0.15); it keeps the engine's NDCG there and still widens the page
DEFAULT_DIVERSITY = 0.2
