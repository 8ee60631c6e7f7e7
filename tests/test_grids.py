"""Grid plans over any model and what they cost: `plan_grid`, `estimate_cost`, the budget check."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from qubico_nb import CostEstimate, InvalidRequestError, OverBudgetError, estimate_cost
from qubico_nb.grids import check_budget, plan_grid

from .helpers.sandbox import VIDEO
from .media import mp4_bytes, mp4_data_uri


def test_the_mmaudio_form_is_a_grid_over_mmaudio_in_the_same_cell_order() -> None:
    plan = plan_grid(VIDEO, ["a", "b"], seeds=[1, 2], steps=[20, None], negative_prompt="music")
    assert plan.model == "Qubico/mmaudio" and plan.task_type == "video2audio"
    assert [(c["prompt"], c["seed"], c.get("steps")) for c in plan.cells] == [
        ("a", 1, 20),
        ("a", 1, None),
        ("a", 2, 20),
        ("a", 2, None),
        ("b", 1, 20),
        ("b", 1, None),
        ("b", 2, 20),
        ("b", 2, None),
    ]
    assert all(c["video"] == VIDEO and c["negative_prompt"] == "music" for c in plan.cells)
    assert plan_grid(VIDEO, "one prompt").cells == ({"video": VIDEO, "prompt": "one prompt"},)


def test_a_grid_over_any_model_is_the_cross_product_of_vary_over_input() -> None:
    plan = plan_grid(
        model="ace-step",
        input={"duration": 20, "lyrics": "[inst]"},
        vary={"style_prompt": ["lofi", "rock", "jazz"], "negative_prompt": [None, "vocals"]},
    )
    assert plan.model == "Qubico/ace-step" and plan.task_type == "txt2audio"
    assert len(plan.cells) == 6
    assert plan.cells[0] == {"duration": 20, "lyrics": "[inst]", "style_prompt": "lofi"}
    assert plan.cells[1]["negative_prompt"] == "vocals"
    full = plan_grid(
        model="Qubico/diffrhythm", task_type="txt2audio-full", vary={"style_prompt": ["a"]}
    )
    assert full.task_type == "txt2audio-full"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({}, "say which model"),
        ({"model": "udio", "vary": {"prompt": ["a"]}}, "model must be one of"),
        ({"model": "ace-step", "vary": {"style_prompt": "lofi"}}, "must be a list of values"),
        ({"model": "ace-step", "vary": {"style_prompt": []}}, "the grid is empty"),
        (
            {"model": "ace-step", "input": {"style_prompt": "a"}, "vary": {"style_prompt": ["b"]}},
            "both in input and in vary",
        ),
        ({"model": "ace-step", "vary": {"style_prompt": ["a"], "seed": [1, 2]}}, "not an input"),
        (
            {"model": "ace-step", "vary": {"style_prompt": ["a"], "duration": [30, 300]}},
            "10 to 240",
        ),
        ({"model": "ace-step", "seeds": [1], "vary": {"style_prompt": ["a"]}}, "MMAudio form"),
        ({"model": "tts", "vary": {"gen_text": ["hi"]}}, "ref_audio is required"),
        ({"video": VIDEO}, "needs a video and prompts"),
        ({"video": VIDEO, "prompts": ["a"], "model": "ace-step"}, "MMAudio's grid"),
        ({"video": VIDEO, "prompts": ["a"], "vary": {"seed": [1]}}, "not both"),
        ({"video": VIDEO, "prompts": ["a"], "steps": [10]}, "from 20 to 50"),
        ({"video": "/no/such.mp4", "prompts": ["a"]}, "no file at"),
    ],
)
def test_every_cell_is_checked_before_anything_is_sent(kwargs: dict, needle: str) -> None:
    with pytest.raises(InvalidRequestError, match=needle.replace("(", r"\(")):
        plan_grid(**kwargs)


def test_estimate_prices_each_cell_and_says_what_it_assumed(tmp_path: Path) -> None:
    est = estimate_cost(
        model="ace-step", vary={"style_prompt": ["a", "b"], "duration": [20, 60]}, input={}
    )
    assert est.per_task == (0.01, 0.03, 0.01, 0.03) and est.usd == pytest.approx(0.08)
    assert est.n_tasks == 4 and est.exact and "$0.0800 for 4 Qubico/ace-step tasks" in str(est)
    assumed = estimate_cost(model="ace-step", vary={"style_prompt": ["a", "b"]})
    assert assumed.usd == pytest.approx(0.24) and not assumed.exact
    assert "240 s assumed" in assumed.assumed[0] and str(assumed).startswith("at most $0.2400")
    # MMAudio is priced by the video: measured when local or inline, 30 s when only a URL.
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(mp4_bytes(12.0))
    assert estimate_cost(clip, ["a", "b"]).per_task == (0.006, 0.006)
    assert estimate_cost(mp4_data_uri(3.2), ["a"]).usd == pytest.approx(0.002)
    by_url = estimate_cost(VIDEO, ["a"], seeds=[1, 2, 3])
    assert by_url.usd == pytest.approx(0.045) and not by_url.exact
    assert estimate_cost(model="diffrhythm", vary={"style_prompt": ["a", "b", "c"]}).usd == 0.06


def test_estimate_takes_the_same_arguments_as_submit_grid() -> None:
    """One dict of arguments serves both: the ones only submitting needs are accepted."""
    import inspect

    from qubico_nb import submit_grid

    submit = inspect.signature(submit_grid).parameters
    estimate = inspect.signature(estimate_cost).parameters
    assert list(submit) == list(estimate)
    assert all(submit[n].default == estimate[n].default for n in submit)
    est = estimate_cost(VIDEO, ["a"], client=object(), progress=False, timeout=1, max_cost_usd=0)
    assert est.n_tasks == 1


def test_a_grid_over_budget_is_refused_with_the_estimate() -> None:
    est = estimate_cost(model="diffrhythm", vary={"style_prompt": ["a", "b", "c"]})
    check_budget(est, None)
    check_budget(est, 0.06)
    with pytest.raises(
        OverBudgetError, match=r"would cost \$0.0600, over the budget of \$0.0500"
    ) as caught:
        check_budget(est, 0.05)
    assert caught.value.estimate is est and isinstance(caught.value, InvalidRequestError)
    again = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 (our own bytes)
    assert again.estimate == est and str(again) == str(caught.value)
    upper = estimate_cost(VIDEO, ["a"])
    with pytest.raises(OverBudgetError, match=r"at most \$0.0150.*30 s"):
        check_budget(upper, 0.01)
    for bad in (-1, True, "1"):
        with pytest.raises(InvalidRequestError, match="max_cost_usd must be"):
            check_budget(est, bad)  # type: ignore[arg-type]


def test_cost_estimate_is_a_plain_value() -> None:
    est = CostEstimate(usd=0.02, n_tasks=1, per_task=(0.02,), model="Qubico/diffrhythm")
    assert est.exact and est == pickle.loads(pickle.dumps(est))  # noqa: S301 (our own bytes)
    assert str(est) == "$0.0200 for 1 Qubico/diffrhythm tasks ($0.0200 each)"
