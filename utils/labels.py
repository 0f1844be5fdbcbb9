"""ImageNet-1k labels, offline: class id <-> short name <-> WordNet id.

Short names are torchvision's; WordNet ids and the full synonym lists (the Waikato class map used by the
original demo, e.g. "tench, Tinca tinca") come from timm's bundled ImageNet metadata.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from utils.errors import WorkbookError

NUM_CLASSES = 1000


@dataclass(frozen=True)
class ImageNetClass:
    class_id: int
    name: str
    wnid: str
    synonyms: str


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    import torchvision
    from timm.data import ImageNetInfo

    names = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    info = ImageNetInfo("imagenet-1k")
    return tuple(
        ImageNetClass(class_id=i, name=names[i], wnid=info.index_to_label_name(i),
                      synonyms=info.index_to_description(i))
        for i in range(NUM_CLASSES)
    )


def class_name(class_id: int) -> str:
    return by_id(class_id).name


def by_id(class_id: int) -> ImageNetClass:
    if not 0 <= class_id < NUM_CLASSES:
        raise WorkbookError(f"ImageNet class id {class_id} is out of range; use 0 to {NUM_CLASSES - 1}")
    return imagenet_classes()[class_id]


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, ImageNetClass]:
    index: dict[str, ImageNetClass] = {}
    for entry in imagenet_classes():
        index.setdefault(entry.name.lower(), entry)
        index[entry.wnid] = entry
    return index


def lookup(name_or_wnid: str) -> ImageNetClass:
    """Find a class by its short name (case-insensitive) or WordNet id ("n02123045")."""
    key = name_or_wnid if name_or_wnid.startswith("n0") or name_or_wnid.startswith("n1") else name_or_wnid.lower()
    try:
        return _index()[key]
    except KeyError:
        raise WorkbookError(f"no ImageNet class is called {name_or_wnid!r}; give a short name or a WordNet id") from None
