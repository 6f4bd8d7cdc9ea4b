"""Adversarial models: GAN, f-GAN, BiGAN, CycleGAN, and the metrics that expose mode collapse."""
