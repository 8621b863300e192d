"""Model families, one package each (see docs/adding-a-model.md and :mod:`umeval.models.family`).

A family package registers its :class:`umeval.models.family.ModelMeta` when imported: encoders per backend, prompt
formats, modes, pooling, preprocessing, pinned checkpoints, cache-key fields and version, its own options.  It
holds its prompt format, any test checkpoint builder and its published reference scores.  Presets in
``conf/model/`` pick a family with ``family: <name>``.
"""
