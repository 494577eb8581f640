"""The demo: `python -m symnum demo`, the Brusselator model end to end, and the example models.

context (what stages share) → solve (compile, Jacobian, integrate) → pipeline (the stage list, the
table, `main`); examples holds the plain-numpy models used by the demo, the tests and benchmarks.
"""

from symnum.demo.context import PARAMS, Check, Context, DemoResult, StageResult, _compare
from symnum.demo.examples import brusselator_rhs
from symnum.demo.pipeline import STAGES, format_table, main, run_demo
