"""Example services used by the demo and the docs."""
