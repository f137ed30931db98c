"""Solara dashboards: the one-deal explorer and the strategy comparison (``buyingsim dashboard``)."""
