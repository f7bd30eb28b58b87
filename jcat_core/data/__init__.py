"""Data sources that need no downloads: procedural sequences with exact ground truth, optionally photo-textured."""
