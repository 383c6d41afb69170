"""Real machines through the harness: a measurement run by hand (run.py)."""
