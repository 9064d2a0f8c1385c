"""Architecture search strategies: DARTS (:mod:`.darts`), the black-box ones (:mod:`.strategies`: random, REA,
PPO over :mod:`.blackbox`), NCP (:mod:`.ncp`, :mod:`.predictor`).

The package imports nothing itself: a worker process that scores black-box candidates unpickles
:mod:`.fitness` and must not pay for the DARTS supernet and its pictures (matplotlib).
"""
