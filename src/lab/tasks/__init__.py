"""One file per Hugging Face head: its DataModule (preprocessing), LightningModule and metrics."""
