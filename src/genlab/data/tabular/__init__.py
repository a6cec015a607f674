"""Tabular data (P1–P4, F7): reading CSV/JSON files and HTTP JSON APIs into typed tables (``read``, ``http``), the
offline tabular datasets (``catalog``), pandas frames ↔ a table's named fields (``frame``), preprocessing with
scikit-learn fitted on the training split and saved without pickles (``preprocess``, ``state``), and streams of
chunks for online learning (``stream``). Each module imports pandas / scikit-learn lazily where it can."""
