"""The library: configuration, parameters, transfer functions and penalties, the objective, training, PCA.

Imports NumPy and SciPy only (and threadpoolctl for the BLAS thread policy); nothing here
imports the datasets, the experiments or the book.
"""
