"""The names of the training engines, in a module that imports nothing, so that the config can
check ``engine`` without loading the engines (:mod:`digitlab.nn.engines`, NumPy's BLAS, SciPy)."""

#: ``"reference"``: the equations as written; ``"fused"``: the same maths reordered for the cache
ENGINES = ("reference", "fused")
