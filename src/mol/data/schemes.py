"""Class schemes: which emotions become which class, for each dataset, in one place.

A scheme maps a (dataset, emotion) pair to a class name; emotions outside the scheme are
dropped (and reported) rather than guessed. Emotion names are compared case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mol.errors import ConfigError


@dataclass(frozen=True)
class ClassScheme:
    """An ordered list of classes and, per dataset, the emotion → class mapping."""

    name: str
    classes: tuple[str, ...]
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)

    def class_of(self, dataset: str, emotion: str) -> str | None:
        """The class of an emotion in a dataset, or None if the scheme drops it."""
        key = emotion.strip().lower()
        mapping = self.mappings.get(dataset)
        if mapping is None:  # a dataset the scheme has no table for (folders, manifests)
            mapping = {k: v for table in self.mappings.values() for k, v in table.items()}
        if key in mapping:
            return mapping[key]
        return key if key in self.classes else None

    def label_of(self, dataset: str, emotion: str) -> int | None:
        cls = self.class_of(dataset, emotion)
        return None if cls is None else self.classes.index(cls)


_NEGATIVE_CASME2 = ("disgust", "repression")
_NEGATIVE_SAMM = ("anger", "contempt", "disgust", "fear", "sadness")

SCHEMES: dict[str, ClassScheme] = {
    "casme2-5": ClassScheme(
        "casme2-5",
        ("surprise", "happiness", "disgust", "repression", "others"),
        {"casme2": {e: e for e in ("surprise", "happiness", "disgust", "repression", "others")}},
    ),
    "samm-5": ClassScheme(
        "samm-5",
        ("surprise", "happiness", "anger", "contempt", "others"),
        {
            "samm": {
                "surprise": "surprise",
                "happiness": "happiness",
                "anger": "anger",
                "contempt": "contempt",
                "other": "others",
                "others": "others",
            }
        },
    ),
    # MEGC2019 composite; also the 3-class scheme of each single dataset
    "megc-3": ClassScheme(
        "megc-3",
        ("surprise", "positive", "negative"),
        {
            "casme2": {"surprise": "surprise", "happiness": "positive", **dict.fromkeys(_NEGATIVE_CASME2, "negative")},
            "samm": {"surprise": "surprise", "happiness": "positive", **dict.fromkeys(_NEGATIVE_SAMM, "negative")},
            "smic": {"surprise": "surprise", "positive": "positive", "negative": "negative"},
        },
    ),
}
DEFAULT_SCHEME = {"casme2": "casme2-5", "samm": "samm-5", "smic": "megc-3"}


def get_scheme(name: str) -> ClassScheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ConfigError(f"unknown class scheme {name!r}; choose one of {sorted(SCHEMES)}") from None


def scheme_from_labels(labels: list[str]) -> ClassScheme:
    """For folders and manifests without a named scheme: the sorted distinct labels, as given."""
    classes = tuple(sorted({label.strip().lower() for label in labels}))
    return ClassScheme("from-labels", classes)
