"""The experiments: named configurations, the model cache, sweeps, grids, measures, probes, knobs.

Imports the library and the datasets; never the book.
"""
