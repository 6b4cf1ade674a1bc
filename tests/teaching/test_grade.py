"""Grading: scores, partial credit, prerequisites, hidden checks, Gradescope's format, batch."""

import csv
import json

import pytest

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


@pytest.mark.slow
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


@pytest.mark.slow
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


INDEPENDENT = {
    "vae": """
def reparameterize(mu, logvar, eps):
    return mu + eps * torch.sqrt(torch.exp(logvar))


def log_normal_diag(z, mu, logvar):
    var = torch.exp(logvar)
    return torch.sum(-0.5 * math.log(2 * math.pi) - 0.5 * logvar - (z - mu) ** 2 / (2 * var), -1)


def gaussian_kl(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu * mu - logvar.exp(), dim=-1)


def iwae_bound(log_w):
    top = log_w.max(0).values
    return top + torch.log(torch.mean(torch.exp(log_w - top), 0))
""",
    "gan": """
def discriminator_loss(real_logits, fake_logits):
    ones, zeros = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
    return (F.binary_cross_entropy_with_logits(real_logits, ones)
            + F.binary_cross_entropy_with_logits(fake_logits, zeros))


def generator_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def gradient_penalty(critic, real, fake, eps):
    x = (fake + eps * (real - fake)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x), x, torch.ones(len(x), dtype=x.dtype),
                               create_graph=True)
    return ((g.reshape(len(g), -1).pow(2).sum(1).sqrt() - 1) ** 2).mean()
""",
    "ddpm": """
def alpha_bar(betas):
    return torch.exp(torch.cumsum(torch.log1p(-betas), 0))


def q_sample(x0, t, noise, alpha_bar):
    a = alpha_bar[t].reshape(-1, *[1] * (x0.dim() - 1)).to(x0.dtype)
    return torch.sqrt(a) * x0 + torch.sqrt(1 - a) * noise


def posterior_mean_variance(x0, xt, t, betas, alpha_bar):
    shape = (-1, *[1] * (x0.dim() - 1))
    b, a, ap = (v[i].reshape(shape).to(x0.dtype) for v, i in
                ((betas, t), (alpha_bar, t), (alpha_bar, t - 1)))
    mean = (ap.sqrt() * b * x0 + (1 - b).sqrt() * (1 - ap) * xt) / (1 - a)
    return mean, b * (1 - ap) / (1 - a)


def predict_x0(xt, t, eps, alpha_bar):
    a = alpha_bar[t].reshape(-1, *[1] * (xt.dim() - 1)).to(xt.dtype)
    return xt / a.sqrt() - (1 / a - 1).sqrt() * eps


def simple_loss(eps_pred, noise):
    return F.mse_loss(eps_pred, noise)


def ancestral_step(xt, t, eps_pred, betas, alpha_bar, noise):
    x0 = predict_x0(xt, t, eps_pred, alpha_bar)
    mean, var = posterior_mean_variance(x0, xt, t, betas, alpha_bar)
    last = (t == 1).reshape(-1, *[1] * (xt.dim() - 1))
    return mean + torch.where(last, torch.zeros_like(var), var.sqrt()) * noise
""",
    "naive-bayes": """
def fit(X, y, n_levels, n_classes, alpha):
    n, D = X.shape
    counts = torch.zeros(n_classes, D, n_levels, dtype=torch.float64)
    for c in range(n_classes):
        for d in range(D):
            counts[c, d] = torch.bincount(X[y == c, d], minlength=n_levels).double()
    per_class = torch.bincount(y, minlength=n_classes).double()
    log_prob = torch.log((counts + alpha) / (per_class.view(-1, 1, 1) + alpha * n_levels))
    return torch.log(per_class / n), log_prob


def joint_log_likelihood(X, class_log_prior, feature_log_prob):
    D = X.shape[1]
    rows = [feature_log_prob[:, d, X[:, d]].T for d in range(D)]
    return torch.stack(rows).sum(0) + class_log_prior


def predict_proba(jll):
    return torch.softmax(jll, dim=1)
""",
}


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_independent_correct_implementations_score_full_points(tmp_path, name):
    """Written differently from the reference (other operations, other order): full marks, so
    the tolerances are not tuned to the reference's exact arithmetic."""
    a = load(name)
    header = source.stub_file(a).split("# --- your tasks")[0]
    header += "import math\nimport torch.nn.functional as F\n"
    g = grade(write(tmp_path, header + INDEPENDENT[name], a.student_file), a, benchmark=False)
    assert g.score == g.max_score > 0, [r.output for r in g.results if r.status != "passed"]
