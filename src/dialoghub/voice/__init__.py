"""Voice: speech in and out of a session (speech recognition, synthesis, barge-in) on real
engines that run here. Empty until the voice issue lands; the import contracts already give
it its place (above the hub, below the server)."""
