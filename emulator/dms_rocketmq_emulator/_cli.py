"""The `dms-rocketmq-emulator` command line."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the `dms-rocketmq-emulator` command line."""
    parser = argparse.ArgumentParser(prog="dms-rocketmq-emulator", description="Emulate DMS for RocketMQ.")
    parser.parse_args(argv)
    print("dms-rocketmq-emulator: not implemented yet", file=sys.stderr)
    return 2
