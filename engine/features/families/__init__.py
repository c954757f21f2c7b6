"""One module per feature family; each exports ``FAMILY`` (declarations + compute)."""
