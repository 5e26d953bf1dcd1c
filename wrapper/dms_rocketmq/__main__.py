"""`python -m dms_rocketmq` runs the `dms-rocketmq` command line."""

import sys

from .cli import main

sys.exit(main())
