"""Workshop mode: teams play vendors against the same simulated buying groups, round by round,
with a facilitator console (``buyingsim workshop``; guide in docs/workshop.md)."""
