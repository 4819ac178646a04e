"""Data loading for lab: sources (Hub, local files, packaged demo) and the generic DataModule."""
