"""The agents directory of ``adk api_server`` (each subdirectory is one app)."""
