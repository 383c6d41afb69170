"""dialoghub."""
