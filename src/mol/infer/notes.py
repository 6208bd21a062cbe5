"""What a reader must know before reading `mol predict`'s results, from the checkpoint's own
record: which heads to hide (untrained, or no better than their trivial baseline on held-out
people), whether recognition was at chance there, what the model was trained on and from which
weights it started, and the names of its classes."""

from __future__ import annotations

import json
from pathlib import Path

from mol.errors import ConfigError
from mol.model.record import HeldOut, Initialization, TrainingRecord


def name_classes(
    n: int, metadata: dict, given: list[str] | None, checkpoint: str | Path
) -> tuple[list[str], str | None]:
    """The names of the model's ``n`` classes: ``given`` (``--classes``), else the checkpoint's,
    else class_0… with a note saying they are unknown."""
    stored = json.loads(metadata["classes"]) if "classes" in metadata else None
    if given is not None:
        if len(given) != n or len(set(given)) != n:
            raise ConfigError(
                f"--classes: the model has {n} classes, got {len(given)} names {given}; give {n} distinct"
            )
        differ = stored is not None and list(stored) != list(given)
        return list(given), (f"Class names given with --classes, not the checkpoint's {stored}." if differ else None)
    if stored is not None:
        return list(stored), None
    note = (
        f"{checkpoint} does not name its classes, so they are called class_0…class_{n - 1}; "
        "give their names in training order with --classes a,b,…"
    )
    return [f"class_{i}" for i in range(n)], note


HEAD_MARGIN = 0.10  # shown only if at least 10 % below its trivial baseline's error on held-out people

# head → how its held-out error and its trivial baseline's read (the figures: HeldOut.head_error)
HEAD_READINGS = {
    "flow": "EPE {:.3f} px; predicting no motion: {:.3f} px",
    "landmarks": "NME {:.2f} %; the training mean shape: {:.2f} %",
}


def held_out_notes_of(held_out: HeldOut | None, hidden: list[str]) -> tuple[list[str], list[str]]:
    """(trained heads to hide, notes) from the figures a checkpoint measured on its held-out
    people: a flow or landmark head that did not beat its trivial baseline by HEAD_MARGIN is
    hidden, and recognition no better than chance is said."""
    if held_out is None:
        return [], []
    count = held_out.subjects
    people = f"the {'held-out person' if count == 1 else f'{count} held-out people'} this model was tested on"
    failed, notes = [], []
    for head, reading in HEAD_READINGS.items():
        figures = held_out.head_error(head)
        if head in hidden or figures is None:
            continue
        if not figures[0] <= (1 - HEAD_MARGIN) * figures[1]:
            failed.append(head)
            notes.append(
                f"The {head} head was not at least {HEAD_MARGIN:.0%} better than its trivial baseline on {people} "
                f"({reading.format(*figures)}), so its output is not shown."
            )
    uar, chance = held_out.video_uar, held_out.chance_uar
    verdict = ": no better than chance, so its class probabilities are not evidence" if uar <= chance else ""
    notes.append(f"Recognition on {people}: video UAR {uar:.3f} (chance {chance:.3f}){verdict}.")
    return failed, notes


def training_notes(record: TrainingRecord | None) -> tuple[list[str], list[str]]:
    """(heads to hide, notes for the reader) from a checkpoint's training record."""
    if record is None:
        return [], [
            "This checkpoint carries no training record (it predates them): its flow and landmark "
            "heads may never have been trained, so their outputs below may be noise."
        ]
    hidden = [head for head in ("flow", "landmarks") if head not in record.trained_heads]
    notes = []
    if hidden:
        notes.append(
            f"The {' and '.join(hidden)} head{'s were' if len(hidden) > 1 else ' was'} not trained "
            "(loss weight 0), so no predicted " + " or ".join(hidden) + " are shown."
        )
    failed, held_out_notes = held_out_notes_of(record.held_out, hidden)
    hidden, notes = hidden + failed, notes + held_out_notes
    subjects = record.subjects
    data = f"{', '.join(record.datasets)}: {subjects} subject{'' if subjects == 1 else 's'}, {record.videos} videos"
    if record.synthetic:
        notes.append(
            f"This model was trained on synthetic data ({data}). Its labels on a real face are not "
            "findings about that person: it has only seen generated micro-expressions."
        )
    else:
        notes.append(f"Trained on {data}; classes {', '.join(record.classes)}.")
    if record.input != "onset_apex_flow":  # a MOL checkpoint: where its weights started
        notes.append(initialization_note(record.initialization))
    return hidden, notes


def initialization_note(init: Initialization | None) -> str:
    """Where the checkpoint's training started: from scratch or from which pre-trained weights."""
    if init is None:
        return "Initialisation: not recorded (a checkpoint from before it was recorded; most likely scratch)."
    return f"Initialisation: {init.describe()}."
