#!/usr/bin/env python3
"""The seed's entry point, kept: `python3.11 run_eval.py --model_name ... --dataset ...`.

Same flags as before (both `--flag=value` and `--flag value`); it is `asyncbench run`.
"""

import sys

from asyncbench.cli.app import main

if __name__ == "__main__":
    main(["run", *sys.argv[1:]], prog="run_eval.py")
