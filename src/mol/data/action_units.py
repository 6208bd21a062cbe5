"""Action-unit codes as the datasets' coding sheets write them, read into FACS names.

CASME II writes "1+2", "4+L10" or "R12"; SAMM "4+7", "R14+R17" or "12B"; the synthetic sheets
"6+12" or "R14". A code's number names the action unit ("AU10"); a side ("L", "R") and an
intensity letter are dropped, except where the names asked for hold the sided code itself (the
synthetic benchmark's unilateral dimpler "R14", contempt's action unit).
"""

from __future__ import annotations

import re

_CODE = re.compile(r"^(?:AU)?\s*([LR])?\s*(\d+)", re.IGNORECASE)


def parse_action_units(cell: str, sided: tuple[str, ...] = ()) -> list[str]:
    """The FACS names of a coding sheet's AU cell, in order, each once: "4+L10" → ["AU4", "AU10"].

    ``sided`` names sided codes to keep as they are ("R14"). Codes with no number ("?", "none")
    are left out."""
    names: list[str] = []
    for token in re.split(r"[+,;/\s]+", str(cell or "").strip()):
        match = _CODE.match(token)
        if match is None:
            continue
        side, number = (match.group(1) or "").upper(), int(match.group(2))
        name = f"{side}{number}" if f"{side}{number}" in sided else f"AU{number}"
        if name not in names:
            names.append(name)
    return names
