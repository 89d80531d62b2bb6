"""The marginal form: random effects integrated out, on sufficient statistics, with an exact
gradient (NumPy + numba kernels), and its PyTensor Op for PyMC graphs."""
