"""Sparse autoencoders, PCA and the generalized backpropagation of "Properties of Autoencoders"."""
