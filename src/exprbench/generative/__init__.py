"""Generators of expression profiles, judged by fidelity and by augmentation gain.

Two systems motivate the family: class-conditional VAE augmentation for pan-cancer
classification (Polepalli) and a latent diffusion model with cross-attention pooling
over genes (scLDM, Palla et al.), here adapted to bulk profiles. Every generator is
fitted on a training set only and judged two ways: the fidelity of its samples
against held-out real samples of the same class (beside a real-vs-real baseline),
and the gain of a classifier trained on real + synthetic samples over real only.

Orientation: every matrix at a function boundary is samples x genes, in the
standardised top-k gene space fitted on the training samples.
"""

from ..family import Family

FAMILY = Family(name="generative", title="generative models", order=60)
