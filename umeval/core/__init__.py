"""The shared vocabulary of every stage.

The run configuration schema, task specs and their registry, the typed artifacts the stages hand each
other (items, embeddings, rankings) and the user-facing errors.
"""
