"""Helpers several test modules share (import them from here, not from another test module)."""
