"""The tests' weight-free encoder: the package's hash encoder, content-keyed, checking media like a real one.

``run(cfg, encoder_factory=FakeEncoder)`` goes through every stage (loading, store, ranking, scoring, result
files, leaderboards) in well under a second per task; see :mod:`umeval.testing.hash_encoder`.
"""

from __future__ import annotations

from typing import Any

from umeval.testing.hash_encoder import HashEncoder

DIM = 16


class FakeEncoder(HashEncoder):
    def __init__(self, model_cfg: Any = None, **_: Any) -> None:
        super().__init__(model_cfg, dim=DIM, by_content=True, check_media=True)
        self.model_id, self.revision = "fake", "0"
