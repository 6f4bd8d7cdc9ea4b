"""Latent variable models: mixture of Gaussians, VAE, GMVAE, IWAE, SSVAE, and the estimator labs."""
