"""Autoregressive density models: p(x) = Π_i p(x_order[i] | x_order[<i]) (FVSBN, MADE, binned 2D MADE)."""
