"""Public facts about the official MMEB-V2 data, shipped as package data (read by :mod:`umeval.data.manifest`)."""
