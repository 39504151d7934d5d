"""The Python API: fit, validate, simulate and report from a notebook; the command line is a thin layer over it.

Every function takes a :class:`~tmesurv.cohort.Cohort` (or a study file) and returns a result object with tidy
tables, a readable ``repr`` and ``.write(folder)``, which writes exactly the files the matching command writes.
Heavy libraries (lifelines, PyMC, Dask) are imported when a function needs them, so ``import tmesurv`` stays fast.
"""
