"""The `dms-rocketmq` command line."""

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the `dms-rocketmq` command line."""
    parser = argparse.ArgumentParser(prog="dms-rocketmq", description="Send messages to DMS for RocketMQ.")
    parser.parse_args(argv)
    print("dms-rocketmq: not implemented yet", file=sys.stderr)
    return 2
