"""pytest fixtures for the Slack emulator (filled in with the emulator)."""
