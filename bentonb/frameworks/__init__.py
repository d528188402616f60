"""Tutorial-compatible import paths, one module per framework."""
