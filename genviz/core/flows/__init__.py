"""Normalizing flows: composable layers `layer(z) -> (x, log_det)`, `layer.inverse(x) -> (z, log_det)`."""
