"""The face commands' lines count in the number the count takes: ``face identify`` said
"team.jpg: 1 face(s)", ``face evaluate --identities`` "(1 known probes, 1 unknown)" and "only 1
unknown probe(s) set the thresholds". Driven with fakes: no detector or model."""

from __future__ import annotations

from types import SimpleNamespace

from siamkit.cli.face_cmds import _identify_text
from siamkit.cli.face_tools_cmds import _identities_text


def test_face_identify_counts_one_face_as_one() -> None:
    box = {"left": 3, "top": 40, "right": 20, "bottom": 58, "score": 0.25}
    docs = [{"image": "me.jpg", "faces": [{"box": box, "label": None, "matches": []}]}]
    assert _identify_text(docs, "hint").splitlines()[0] == "me.jpg: 1 face"


def _identities(known: int, unknown: int) -> str:
    out = SimpleNamespace(num_known=known, num_unknown=unknown, rank1=1.0, dir_at_far={0.5: 1.0})
    return _identities_text(out)


def test_face_evaluate_identities_counts_its_probes_in_their_number() -> None:
    lines = _identities(1, 1).splitlines()
    assert lines[0] == "rank-1 1.0000, DIR@FAR=0.5 1.0000 (1 known probe, 1 unknown)"
    assert lines[1].startswith("note: only 1 unknown probe sets the thresholds, so FAR is ")
    assert lines[2].startswith("note: only 1 known probe, so rank-1 and DIR move in steps of 1/1;")
    lines = _identities(1234, 2).splitlines()
    assert lines[0] == "rank-1 1.0000, DIR@FAR=0.5 1.0000 (1,234 known probes, 2 unknown)"
    assert lines[1].startswith("note: only 2 unknown probes set the thresholds, so FAR is ")
