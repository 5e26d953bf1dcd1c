"""`python -m dms_rocketmq_emulator`: the same as the `dms-rocketmq-emulator` command."""

from ._cli import main

raise SystemExit(main())
