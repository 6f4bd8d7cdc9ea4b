"""Energy-based models: p(x) ∝ exp(f_θ(x)), trained by contrastive divergence or denoising score matching."""
