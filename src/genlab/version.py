"""genlab's version: a leaf module, so what records it (``hub.save_pretrained``) imports nothing back."""

__version__ = "0.1.0"
