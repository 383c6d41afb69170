"""The decision cycle (issue 10): specialists propose a session's next transition, vote, and
reach consensus under a policy the model names. Empty until that issue lands; the import
contracts already give it its place (above the hub, beside agent and routing)."""
