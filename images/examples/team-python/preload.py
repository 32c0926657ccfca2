"""Run a snippet as __main__ with numpy and pandas already imported as np and pd.

The `python-data` runtime runs `python3 preload.py <snippet file> [args...]`: a data-analysis
agent can write `print(pd.DataFrame(...).describe())` without the imports, and a traceback still
points at the snippet's own lines.
"""
import runpy
import sys

import numpy as np
import pandas as pd

snippet = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(snippet, init_globals={"np": np, "pd": pd}, run_name="__main__")
