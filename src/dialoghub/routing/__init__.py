"""Client routing and locks (issue 12): which attached client (chat or voice front end,
command service, AI specialist, human reviewer) receives what a session says, and who holds
a session while they act. Empty until that issue lands; the import contracts already give it
its place (above the hub, below the server)."""
