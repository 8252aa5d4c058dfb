"""The datasets: MNIST with its verification (IDX format, digests, mirrors) and synthetic data.

Imports the library only.
"""
