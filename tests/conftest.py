"""Root of the test tiers. Its presence puts `tests/` on sys.path (pytest's prepend import mode), so that
helpers used by more than one tier live once, in `tests/_shared/`."""
