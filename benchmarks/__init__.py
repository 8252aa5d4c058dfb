"""Benchmarks of the objective and of training: ``python -m benchmarks``.

* :mod:`benchmarks.objective` — one objective-and-gradient evaluation against
  its own five matrix products, on random data of MNIST's shape, and its
  peak extra memory;
* :mod:`benchmarks.straightforward` — the same objective written
  straightforwardly in NumPy and, when PyTorch is installed, with autograd;
* :mod:`benchmarks.training` — L-BFGS training at the UFLDL MNIST setting;
* :mod:`benchmarks.machine` — the machine, BLAS and threads the figures come from.

Every figure is a ratio of times measured in the same run, interleaved, so
that a shared or busy machine changes the times more than the ratios.
"""
