"""genlab.models."""
