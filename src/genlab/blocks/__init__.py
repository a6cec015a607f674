"""genlab.blocks."""
