"""S2 end-to-end memory network and S3 model graphs: equations, tying, training aids, learning a one-fact task."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlab.blocks.graph import Graph, node
from genlab.errors import ConfigError
from genlab.models.qa.bag_of_words import BagOfWordsQA, masked_mean
from genlab.models.qa.memn2n import MemN2N, noisy_recency, position_weights

VOCAB = ("<pad>", "<unk>", *(f"p{i}" for i in range(4)), *(f"l{i}" for i in range(5)))  # people p*, places l*


# --- S3 graphs --------------------------------------------------------------------------------------------------------
class _StoryBranch(nn.Module):
    def __init__(self, qa: BagOfWordsQA) -> None:
        super().__init__()
        self.A, self.T, self.D = qa.A, qa.T, qa.config.max_distance

    def forward(self, story):
        lengths = (story != 0).sum(1, keepdim=True)
        distance = (lengths - 1 - torch.arange(story.shape[1])).clamp(0, self.D - 1)
        return masked_mean(self.A(story) + self.T(distance), story)


class _QuestionBranch(nn.Module):
    def __init__(self, qa: BagOfWordsQA) -> None:
        super().__init__()
        self.B = qa.B

    def forward(self, question):
        return masked_mean(self.B(question), question)


def test_a_graph_of_two_branches_concatenated_equals_the_network_written_by_hand():
    qa = BagOfWordsQA(vocabulary=VOCAB, embed_dim=6)
    graph = Graph(inputs=("story", "question"),
                  nodes=[node("s", _StoryBranch(qa), "story"), node("q", _QuestionBranch(qa), "question"),
                         node("logits", qa.out, "s", "q")],  # [s; q] → W [s; q] + c
                  outputs="logits")
    story = torch.randint(2, len(VOCAB), (5, 9))
    story[:, 7:] = 0
    question = torch.randint(2, len(VOCAB), (5, 3))
    assert torch.equal(graph(story=story, question=question), qa.logits(story, question))
    same = {id(p) for p in qa.parameters()}
    assert {id(p) for p in graph.parameters()} == same  # the same parameters, nothing more
    two = Graph(("a", "b"), [node("sum", _Add(), "a", "b", join="args")], outputs=("sum", "a"))
    out = two(a=torch.ones(2), b=torch.full((2,), 2.0))
    assert torch.equal(out["sum"], torch.full((2,), 3.0)) and torch.equal(out["a"], torch.ones(2))


class _Add(nn.Module):
    def forward(self, a, b):
        return a + b


def test_a_graph_refuses_unknown_sources_reused_names_and_missing_inputs():
    with pytest.raises(ConfigError, match="'later'.*one of"):
        Graph(("x",), [node("y", nn.Identity(), "later"), node("later", nn.Identity(), "x")], outputs="y")
    with pytest.raises(ConfigError, match="already"):
        Graph(("x",), [node("x", nn.Identity(), "x")], outputs="x")
    with pytest.raises(ConfigError, match="outputs"):
        Graph(("x",), [node("y", nn.Identity(), "x")], outputs="z")
    g = Graph(("x", "z"), [node("y", nn.Identity(), "x", "z")], outputs="y")
    with pytest.raises(ConfigError, match="missing \\['z'\\]"):
        g(x=torch.ones(1))


# --- the equations ----------------------------------------------------------------------------------------------------
def test_position_encoding_is_the_papers_formula_and_zero_past_the_sentence():
    l = position_weights(torch.tensor([3]), width=5, d=4)[0]  # (W, d)
    J, d = 3, 4
    for j in range(1, 6):
        for k in range(1, d + 1):
            want = (1 - j / J) - (k / d) * (1 - 2 * j / J) if j <= J else 0.0
            assert l[j - 1, k - 1].item() == pytest.approx(want)


def test_recency_counts_back_from_the_latest_sentence_and_noise_inserts_empty_memories():
    count = torch.tensor([3, 5])
    recency, _, blank = noisy_recency(count, 5, 0.0)
    assert recency[0, :3].tolist() == [2, 1, 0] and recency[1].tolist() == [4, 3, 2, 1, 0] and not blank.any()
    g = torch.Generator().manual_seed(0)
    recency, blank_recency, blank = noisy_recency(torch.full((200,), 6), 6, 0.3, g)
    assert 0.2 < blank.float().mean() < 0.4
    for r, rb, b in zip(recency, blank_recency, blank, strict=True):
        used = r.tolist() + rb[b].tolist()  # every slot, real or empty, one recency of 0 … n + G − 1
        assert sorted(used) == list(range(len(used)))
        assert all(x > y for x, y in zip(r.tolist(), r.tolist()[1:], strict=False))  # older sentences further back


def test_adjacent_tying_shares_the_tables_as_the_paper_says_and_survives_save_and_load(tmp_path):
    model = MemN2N(vocabulary=VOCAB, hops=3, embed_dim=8)
    memory, hops = model.graph.nodes["memory"], 3
    for k in range(hops - 1):
        assert memory.C[k] is memory.A[k + 1] and memory.TC[k] is memory.TA[k + 1]  # A^{k+1} = C^k
    assert model.graph.nodes["u"].B is memory.A[0]  # B = A^1
    assert model.graph.nodes["logits"].W is memory.C[-1]  # Wᵀ = C^K
    assert sum(p.numel() for p in model.parameters()) == (hops + 1) * (len(VOCAB) + 50) * 8
    layerwise = MemN2N(vocabulary=VOCAB, hops=3, embed_dim=8, tying="layerwise")
    assert layerwise.graph.nodes["memory"].A[0] is layerwise.graph.nodes["memory"].A[2]
    batch = _task(8, torch.Generator().manual_seed(1))
    model.eval()
    model.save_pretrained(tmp_path / "m")
    loaded = MemN2N.from_pretrained(tmp_path / "m")
    args = (batch["sentences"], batch["sentence_count"], batch["question"])
    assert torch.equal(loaded.predict(*args), model.predict(*args))
    assert torch.allclose(loaded.attention(*args), model.attention(*args))


def _task(n: int, g: torch.Generator, slots: int = 6):
    """A one-supporting-fact task: sentences "p_i l_j" (a person goes to a place), the question "p_i": where is the
    person now (the place of the last sentence that names them). Only attention to the right sentence answers it."""
    people, places = torch.arange(2, 6), torch.arange(6, 11)
    count = torch.randint(2, slots + 1, (n,), generator=g)
    sentences = torch.zeros(n, slots, 2, dtype=torch.int64)
    who = people[torch.randint(4, (n, slots), generator=g)]
    where = places[torch.randint(5, (n, slots), generator=g)]
    sentences[..., 0], sentences[..., 1] = who, where
    sentences[torch.arange(slots) >= count[:, None]] = 0
    pick = (torch.rand(n, generator=g) * count).long()  # ask about someone in the story
    asked = who[torch.arange(n), pick]
    named = (who == asked[:, None]) & (torch.arange(slots) < count[:, None])
    last = (named * torch.arange(1, slots + 1)).argmax(1)  # the latest sentence naming them
    answer = where[torch.arange(n), last]
    return {"sentences": sentences, "sentence_count": count, "question": asked[:, None], "answer": answer,
            "supporting": torch.stack([last, torch.full_like(last, -1), torch.full_like(last, -1)], 1)}


def test_attention_is_a_distribution_over_the_storys_sentences_only():
    model = MemN2N(vocabulary=VOCAB, embed_dim=8).eval()
    batch = _task(16, torch.Generator().manual_seed(2))
    p = model.attention(batch["sentences"], batch["sentence_count"], batch["question"])  # (B, K, M)
    assert torch.allclose(p.sum(-1), torch.ones(16, 3))
    assert (p[torch.arange(6)[None, None, :].expand_as(p) >= batch["sentence_count"][:, None, None]] == 0).all()


def test_log_probs_are_the_answer_distribution_whose_mode_is_the_prediction_and_whose_loss_is_the_models():
    model = MemN2N(vocabulary=VOCAB, embed_dim=8).eval()
    batch = _task(16, torch.Generator().manual_seed(3))
    inputs = {k: batch[k] for k in ("sentences", "sentence_count", "question")}
    logp = model.log_probs(**inputs)  # (B, V)
    assert logp.shape == (16, len(VOCAB))
    assert torch.allclose(logp.exp().sum(-1), torch.ones(16))
    assert torch.equal(logp.argmax(-1), model.predict(**inputs))
    with torch.no_grad():
        loss = model(**inputs, answer=batch["answer"]).loss
    assert torch.allclose(-logp[torch.arange(16), batch["answer"]].mean(), loss)


def test_linear_start_leaves_the_softmax_out_for_its_steps_then_puts_it_back():
    model = MemN2N(vocabulary=VOCAB, embed_dim=8, linear_start=2)
    batch = _task(4, torch.Generator().manual_seed(3))
    seen = []
    for _ in range(3):
        model(**batch)
        seen.append(model.hops.linear)
    assert seen == [True, True, False] and int(model.steps) == 3 and "steps" in model.state_dict()
    model.eval()
    model(**batch)
    assert not model.hops.linear and int(model.steps) == 3  # evaluation neither counts nor goes linear


def test_memn2n_learns_the_one_fact_task_and_its_first_hop_reads_the_supporting_sentence():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4)
    train, test = _task(2000, g), _task(500, g)
    model = MemN2N(vocabulary=VOCAB, embed_dim=16, hops=2, random_noise=0.1)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        i = torch.randint(2000, (64,), generator=g)
        out = model(**{k: v[i] for k, v in train.items()})
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    model.eval()
    out = model(**test)
    assert out.accuracy > 0.95, out.accuracy  # a bag of words cannot tell which of a person's moves is the last
    assert out.support > 0.8, out.support


# --- the per-model template and the CLI, on generated bAbI data -----------------------------------------------------
@pytest.fixture(scope="module")
def babi_batch():
    from genlab.data import load

    data = load("babi", split="train", task=2, n_train=48)
    return data.fields, tuple(data.meta["vocabulary"])


@pytest.mark.parametrize("cls", ["MemN2N", "LSTMQA"])
def test_the_template_save_load_and_a_step_change_weights(cls, babi_batch, tmp_path):
    from model_template import check_save_load_identical

    import genlab.models.qa as qa

    fields, vocabulary = babi_batch
    model = getattr(qa, cls)(vocabulary=vocabulary, embed_dim=8, **({"hidden": 8} if cls == "LSTMQA" else {}))
    check_save_load_identical(model, fields, tmp_path, call=lambda m, b: m(**b).loss)
    model.train()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(**fields).loss.backward()
    opt.step()
    grads = [k for k, v in model.named_parameters() if v.grad is not None and v.grad.abs().sum() > 0]
    assert grads and all(not torch.equal(dict(model.named_parameters())[k], before[k]) for k in grads)


def test_memn2n_trains_samples_its_hops_attention_and_is_evaluated_from_the_cli(tmp_path):
    import json

    from typer.testing import CliRunner

    from genlab.cli.main import app

    runner = CliRunner()
    run = tmp_path / "m"
    r = runner.invoke(app, ["train", "memn2n", "--epochs", "3", "--out", str(run), "--quiet",
                            "--set", "data.n_train=300", "--set", "model.embed_dim=12"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["sample", str(run), "--n", "2", "--out", str(tmp_path / "s.txt")])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "s.txt").read_text()
    assert text.count("question: where is") == 2 and "hop 3" in text and text.count("◀") >= 6  # a mark per hop
    r = runner.invoke(app, ["sample", str(run), "--n", "2", "--out", str(tmp_path / "s.png")])
    assert r.exit_code == 0 and (tmp_path / "s.png").stat().st_size > 1000
    r = runner.invoke(app, ["eval", str(run), "--limit", "200"])
    assert r.exit_code == 0, r.output
    assert 0 <= json.loads((run / "eval.json").read_text())["accuracy"] <= 1
