"""Model families other than the engine's built-in Qwen2-VL formats, one folder each (see docs/adding-a-model.md).

A family folder holds its prompt format, its encoder (a small subclass of the HF Qwen2-VL encoder where the
architecture allows), any test checkpoint builder, and its published reference scores.  Presets in
``conf/model/`` pick a family with ``encoder: umeval.models.<family>:<Class>``.
"""
