"""Self-supervised pretraining (SCARF, VIME, BYOL) and fine-tuning on expression profiles."""

from ..family import Family

FAMILY = Family(name="ssl", title="self-supervised learning", order=20)
