"""The weight-free oracle of the fixtures (``model=oracle``, ``model=anti-oracle``), for ``umeval selftest``.

Option ``anti``: every query embeds with its class negated, so an irrelevant candidate ranks first.  Option
``multivector`` (``model=oracle-multivector``): each item is a few token vectors scored by MaxSim (late
interaction), with the oracle's exact answers.  Queries and
candidates are encoded differently (``roles="differ"``), so the store keys them apart.
"""

from umeval.models.family import ModelMeta, register_family

register_family(ModelMeta(
    name="oracle",
    description="reads the class the fixtures put in every item; exact scores on the fixtures, none elsewhere",
    encoders={"hf": "umeval.encoders.oracle:OracleEncoder"},
    modes=("disc", "gen"),
    roles="differ",  # the anti-oracle negates queries, and gen's odd samples answer queries wrongly
    pooling="class axis plus a content-seeded tie breaker (umeval.encoders.oracle)",
    preprocessing="reads the colour of the item's pixels or frames, or the colour word of its text",
    options={"anti": False, "multivector": False},
    weights=False,
))
