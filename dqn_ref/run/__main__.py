"""python -m dqn_ref.run: the command line (dqn_ref/run/main.py)."""

import sys

from dqn_ref.run.main import main

sys.exit(main())
