"""Differentiation as graph → graph transforms: forward and reverse mode (ad), Taylor mode
(taylor), sparsity patterns and sparse Jacobians (sparsity).

Sits on symnum.core; the function-level transforms with JAX's names live in symnum.transforms.
"""
