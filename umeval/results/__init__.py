"""Results on disk and their views.

The versioned per-task ``scores.json`` (:mod:`.task_result`), result files and leaderboards with roll-ups
(:mod:`.files`, :mod:`.board`), the counts each roll-up expects, published reference scores and the tables
printed at the end of a run.
"""
