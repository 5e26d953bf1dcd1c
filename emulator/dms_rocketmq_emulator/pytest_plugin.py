"""pytest plugin: fixtures that start the emulator for a test session."""
