"""Subject data: the canonical model, units, loaders, screening features and the synthetic generator."""
