"""Exploration of sweeps: what the results say about where each strategy wins.

Modules here read stored sweep results and never import the command line; nothing here is
loaded by ``import sim`` until it is used.
"""
