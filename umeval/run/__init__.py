"""Running an evaluation: task spec -> items -> embeddings -> rankings -> scores -> result.

Plan what is left (fingerprints, data fingerprints, resume), resolve the runtime, encode each unique item once
through the embedding store, rank, score and write each task's result; sharding and the Ray launcher; progress.
"""
