"""Grading: scores, partial credit, prerequisites, hidden checks, Gradescope's format, batch."""

import csv
import json

from genbench.cli import main
from genbench.teaching import source
from genbench.teaching.grade import grade, grade_batch
from genbench.teaching.sandbox import Limits
from genbench.teaching.spec import load

ATTENTION = load("attention")


def write(folder, text, name="attention.py"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def independent_attention() -> str:
    """A correct implementation written differently from the reference: full marks."""
    return (
        source.stub_file(ATTENTION).split("# --- your tasks")[0]
        + """
def causal_mask(t, s):
    i = torch.arange(t).view(-1, 1) + (s - t)
    return torch.arange(s).view(1, -1) <= i


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = torch.einsum("...td,...sd->...ts", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    weights = torch.exp(scores - scores.amax(-1, keepdim=True))
    return (weights / weights.sum(-1, keepdim=True)) @ v


def split_heads(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, T, n_head, C // n_head).permute(0, 2, 1, 3)


def merge_heads(x):
    B, nh, T, hs = x.shape
    return x.permute(0, 2, 1, 3).reshape(B, T, nh * hs)


def causal_self_attention(x, w_qkv, b_qkv, w_out, b_out, n_head):
    C = x.shape[-1]
    qkv = x @ w_qkv.T + b_qkv
    q, k, v = (split_heads(qkv[..., i * C:(i + 1) * C], n_head) for i in range(3))
    y = scaled_dot_product_attention(q, k, v, causal_mask(x.shape[1], x.shape[1]))
    return merge_heads(y) @ w_out.T + b_out
"""
    )


def test_an_independent_correct_implementation_scores_full_points(tmp_path):
    g = grade(write(tmp_path, independent_attention()), ATTENTION, benchmark=False)
    assert g.score == g.max_score > 0, [r.output for r in g.results if r.status != "passed"]


def test_a_failed_prerequisite_is_replaced_and_not_charged_twice(tmp_path):
    text = source.reference_file(ATTENTION).replace("diagonal=s - t)", "diagonal=s - t + 1)")
    g = grade(write(tmp_path, text), ATTENTION, benchmark=False)
    assert g.task_score("causal_mask")[0] == 0
    assert g.task_score("causal_self_attention") == (5.0, 5.0)  # graded with the reference mask


def test_banned_calls_and_hard_coded_answers_get_no_points(tmp_path):
    banned = source.reference_file(ATTENTION).replace(
        "    return torch.softmax(scores, dim=-1) @ v",
        "    return F.scaled_dot_product_attention(q, k, v)",
    )
    g = grade(write(tmp_path / "a", banned), ATTENTION, benchmark=False)
    assert g.task_score("scaled_dot_product_attention")[0] == 0
    row = next(r for r in g.results if r.task == "scaled_dot_product_attention")
    assert "bans" in row.output


def test_results_json_hides_hidden_checks_values_and_check_never_says_all_passed(tmp_path, capsys):
    nb = load("naive-bayes")
    folder = write(tmp_path / "s", source.reference_file(nb), nb.student_file)
    out = tmp_path / "results.json"
    assert main(["assignment", "grade", str(folder), "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    hidden = [t for t in results["tests"] if t["visibility"] == "after_published"]
    assert hidden and results["score"] == sum(t["max_score"] for t in results["tests"])
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(hidden[0])
    assert results["extra_data"]["protections"]["separate_process"] is True
    assert main(["assignment", "check", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert "hidden checks" in printed and "all tests passed" not in printed.lower()


def hostile(body: str) -> str:
    """The reference with causal_mask's body replaced."""
    reference = source.reference_file(ATTENTION)
    line = "    return torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t)"
    assert line in reference
    return reference.replace(line, body)


def test_a_batch_survives_broken_and_hostile_submissions(tmp_path):
    batch = tmp_path / "batch"
    write(batch / "good", independent_attention())
    write(batch / "syntax", "def causal_mask(:\n")
    write(batch / "empty", "")
    (batch / "no-file").mkdir()
    write(batch / "loop", hostile("    while True:\n        pass"))
    write(batch / "hoard", hostile("    return [0] * 10**10"))
    write(batch / "peek", hostile("    return open('/etc/hostname').read()"))
    sneaky = "    getattr(F, 'scaled_dot_' + 'product_attention')(*[torch.ones(1, 1, 1)] * 3)\n"
    write(batch / "banned", hostile(sneaky + "    return torch.ones(t, s).tril(s - t).bool()"))
    limits = Limits(call_seconds=4, start_seconds=30)
    path = grade_batch(batch, ATTENTION, tmp_path / "out", workers=2, limits=limits)
    rows = {r["submission"]: r for r in csv.DictReader(path.open())}
    assert set(rows) == {"good", "syntax", "empty", "no-file", "loop", "hoard", "peek", "banned"}
    assert all(r["error"] == "" for r in rows.values())
    assert float(rows["good"]["causal_self_attention"]) == 5.0
    assert float(rows["syntax"]["score"]) == float(rows["no-file"]["score"]) == 0.0
    for name in ("loop", "hoard", "peek", "banned"):  # stopped or flagged, the rest graded
        assert float(rows[name]["causal_mask"]) == 0.0
        assert float(rows[name]["causal_self_attention"]) == 5.0
    outputs = {
        name: " ".join(t["output"] for t in json.loads(
            (tmp_path / "out" / name / "results.json").read_text())["tests"])
        for name in ("loop", "hoard", "peek", "banned")
    }  # fmt: skip
    assert "infinite loop" in outputs["loop"]
    assert "MemoryError" in outputs["hoard"]
    assert "outside its folder" in outputs["peek"]
    assert "bans" in outputs["banned"]
