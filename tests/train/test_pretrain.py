"""`mol pretrain` on tiny settings: it learns from fresh clips, resumes, and the trainer starts from it."""

import json
import math
import shlex

import pytest
import torch
import torch.nn.functional as F

from mol.cli import build_parser
from mol.constants import FRAME_PAIRS
from mol.data.synthetic.stream import STREAM_AUS
from mol.errors import ConfigError
from mol.model import MOL
from mol.model.flow_head import FlowHead
from mol.model.pretrained import flow_seed_of, read_pretrained, start_from
from mol.train.pretrain import Pretrainer, pyramid_loss
from mol.train.pretrain_config import PretrainConfig, command_line
from mol.train.pretrain_measures import au_measures, identity_batches

TINY = dict(batch_size=2, eval_clips=8, eval_every=2, checkpoint_every=1, curriculum_steps=1, eval_people=())


def test_tiny_run_writes_everything_and_resumes(tmp_path):
    out = tmp_path / "pt"
    first = Pretrainer(PretrainConfig(steps=2, **TINY), out).run(progress=False)
    assert first["steps"] == 2
    for name in ("shippable.safetensors", "pretrained.safetensors", "card.json", "eval.csv", "log.csv", "curves.png"):
        assert (out / name).is_file(), name
    weights_after_two = read_pretrained(out / "shippable.safetensors")[0]

    second = Pretrainer(PretrainConfig(steps=3, **TINY), out).run(progress=False)  # resumes at step 2
    assert second["steps"] == 3
    evals = [line.split(",")[0] for line in (out / "eval.csv").read_text().splitlines()[1:]]
    assert evals == ["0", "2", "3"]  # measured at the start, every 2 steps, and at the end, once each
    weights_after_three = read_pretrained(out / "shippable.safetensors")[0]
    assert any(not torch.equal(weights_after_two[k], weights_after_three[k]) for k in weights_after_two)

    card = json.loads((out / "card.json").read_text())
    assert card["command"].startswith("mol pretrain --steps 3 --batch 2")
    assert card["clips_seen"] == 6 and card["final"]["step"] == 3
    assert card["targets"] == list(STREAM_AUS)  # what fine-tuning's class_init reads each output as
    assert read_pretrained(out / "shippable.safetensors")[2]["targets"] == list(STREAM_AUS)

    model = MOL(num_classes=5, motion_input="diff")  # the trainer's start from this run
    fresh = start_from(model, str(out / "shippable.safetensors"))
    assert "mer_head.fc2.weight" in fresh and "conv_stack.convs.0.weight" not in fresh

    with pytest.raises(ConfigError, match="other settings"):
        Pretrainer(PretrainConfig(steps=3, lr=0.1, **TINY), out).run(progress=False)


def test_test_people_are_refused():
    with pytest.raises(ConfigError, match="test people"):
        PretrainConfig(identities="photos", people=("obama",)).validate()
    with pytest.raises(ConfigError, match="test people"):
        PretrainConfig(eval_people=("kanade",)).validate()
    with pytest.raises(ConfigError, match="must not be in the pool"):
        PretrainConfig(identities="mixed", people=("hopper",), eval_people=("hopper",)).validate()


def test_au_measures():
    truth = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]]).numpy()
    perfect = au_measures(truth.astype(float), truth)
    assert perfect == {"au_micro_f1": 1.0, "au_balanced_accuracy": 1.0, "au_exact_match": 1.0}
    silent = au_measures(truth * 0.0, truth)
    assert silent["au_micro_f1"] == 0.0 and silent["au_balanced_accuracy"] == 0.5 and silent["au_exact_match"] == 0.25


def test_command_line_names_the_options_that_differ():
    assert command_line(PretrainConfig()) == []
    assert command_line(PretrainConfig(batch_size=32, people=("hopper",))) == ["--batch 32", "--people hopper"]


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--batch", "-1"], ["--time-budget", "-5"], ["--workers", "x"]])
def test_bad_numbers_are_refused_when_parsing(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["pretrain", "--out", "o", *argv])
    assert exc.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_parsed_options_round_trip_through_the_card_command():
    options = ["--batch", "4", "--identities", "mixed", "--people", "hopper", "--morph-share", "0.5"]
    args = build_parser().parse_args(["pretrain", "--out", "o", *options, "--eval-people", ""])
    from mol.train.pretrain_config import identity_pool_description, pretrain_settings

    config = PretrainConfig(**pretrain_settings(args)).validate()
    assert (config.batch_size, config.people, config.eval_people) == (4, ("hopper",), ())
    assert config.stream_config().morph_share == 0.5 and "morphed" in identity_pool_description(config)
    # as a shell reads the card's command
    again = build_parser().parse_args(["pretrain", "--out", "o", *shlex.split(" ".join(command_line(config)))])
    assert PretrainConfig(**pretrain_settings(again)) == config


def test_a_head_whose_loss_is_off_is_not_computed():
    from mol.train import pretrain

    config = PretrainConfig(loss_flow=0.0, loss_landmark=0.0, **TINY)
    assert pretrain.trained_heads(config) == ("mer",)
    model = MOL(num_classes=len(config.stream_config().targets), motion_input="raw")
    model.flow_head.forward = lambda *a, **k: pytest.fail("the flow head ran with its loss off")
    batch = {
        "clip": torch.rand(2, 1, 8, 128, 128),
        "aus": torch.zeros(2, len(config.stream_config().targets)),
        "pair": torch.tensor([0]),
    }
    total, terms = pretrain.pretrain_loss(model, batch, config)
    assert torch.isclose(total, terms["au"]) and all(terms[k].isnan() for k in ("head", "flow", "landmark"))
    total.backward()
    assert model.mer_head.fc2.weight.grad is not None and model.landmark_head.parameters().__next__().grad is None


def test_the_head_direction_has_a_loss_of_its_own():
    from mol.train import pretrain

    config = PretrainConfig(head_motion=True, loss_au=0.0, loss_head=2.0, loss_flow=0.0, loss_landmark=0.0, **TINY)
    targets = config.stream_config().targets
    model = MOL(num_classes=len(targets), motion_input="raw").eval()  # the same logits twice
    truth = torch.zeros(2, len(targets))
    truth[:, -2:] = 1.0  # the head moved right and down
    batch = {"clip": torch.rand(2, 1, 8, 128, 128), "aus": truth, "pair": torch.tensor([0])}
    total, terms = pretrain.pretrain_loss(model, batch, config)
    logits = model(batch["clip"], heads=("mer",)).mer_logits
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, -2:], truth[:, -2:])
    assert torch.isclose(terms["head"], expected, atol=1e-6) and torch.isclose(total, 2.0 * expected, atol=1e-6)


def test_loss_weights_are_parsed_and_checked():
    args = build_parser().parse_args(["pretrain", "--out", "o", "--loss-flow", "0", "--loss-landmark", "0"])
    from mol.train.pretrain_config import pretrain_settings

    config = PretrainConfig(**pretrain_settings(args))
    assert (config.loss_au, config.loss_flow, config.loss_landmark) == (1.0, 0.0, 0.0)
    assert command_line(config) == ["--loss-flow 0.0", "--loss-landmark 0.0"]
    with pytest.raises(ConfigError, match="at least one"):
        PretrainConfig(loss_au=0.0, loss_flow=0.0, loss_landmark=0.0).validate()


def test_a_stage_starts_from_an_earlier_run(tmp_path):
    first = tmp_path / "first"
    Pretrainer(PretrainConfig(steps=1, motion_input="raw", **TINY), first).run(progress=False)
    earlier = read_pretrained(first / "pretrained.safetensors")[0]
    stage = Pretrainer(
        PretrainConfig(steps=1, motion_input="raw", init=str(first / "pretrained.safetensors"), **TINY),
        tmp_path / "second",
    )
    mine = stage.model.state_dict()
    assert all(torch.equal(mine[k], earlier[k]) for k in earlier)  # the class layer and the flow head too
    card = stage.run(progress=False)
    assert card["init"]["init"] == "file" and card["init"]["file"] == "pretrained.safetensors"
    with pytest.raises(ConfigError, match="motion_input"):
        Pretrainer(PretrainConfig(steps=1, init=str(first / "pretrained.safetensors"), **TINY), tmp_path / "third")


def test_an_untrained_target_is_measured_as_nan_not_as_a_figure(tmp_path):
    trainer = Pretrainer(PretrainConfig(steps=1, loss_flow=0.0, **TINY), tmp_path)
    trainer.measure()
    row = trainer.state.evals[-1]
    flow = [k for k in row if k.endswith("/flow_epe")]
    assert flow and all(math.isnan(row[k]) for k in flow)
    assert all(not math.isnan(row[k.replace("flow_epe", "flow_epe_zero")]) for k in flow)  # the baseline stays
    assert all(not math.isnan(row[k]) for k in row if k.endswith("/landmark_nme_percent"))


@pytest.mark.parametrize("clips", [64, 60])
def test_measuring_clips_use_every_held_out_identity_alike(clips):
    batches = identity_batches(list(range(16)), clips)
    assert sum(len(b) for b in batches) == clips and all(len(b) <= 8 for b in batches)
    counts = [sum(b.count(i) for b in batches) for i in range(16)]
    assert max(counts) - min(counts) <= 1  # before: faces 8-15 served once, 0-7 seven times


def test_measuring_clips_move_as_far_as_asked():
    from mol.train.pretrain_measures import make_eval_sets

    config = PretrainConfig(eval_clips=8, eval_people=()).validate()

    def apex_flow(amplitude):
        (procedural,) = make_eval_sets(config, amplitude)
        return max(float(abs(torch.as_tensor(b["flow"])).max()) for b in procedural.batches)

    small, large = apex_flow((0.5, 0.5)), apex_flow((6.0, 6.0))
    assert 0 < small < 1.0 < large


def test_a_flow_stage_trains_the_flow_head_alone_and_ships_its_seed(tmp_path):
    first = tmp_path / "first"
    Pretrainer(PretrainConfig(steps=1, loss_flow=0.0, **TINY), first).run(progress=False)
    start = read_pretrained(first / "shippable.safetensors")[0]
    config = PretrainConfig(steps=2, flow_only=True, seed=3, init=str(first / "shippable.safetensors"), **TINY)
    card = Pretrainer(config, tmp_path / "flow").run(progress=False)
    after = read_pretrained(tmp_path / "flow" / "pretrained.safetensors")[0]
    # everything but the flow head as the start made it (the shared BatchNorm statistics too)
    outside = [k for k in start if not k.startswith("flow_head.")]
    assert outside and all(torch.equal(after[k], start[k]) for k in outside)
    reference = FlowHead()
    reference.seed_large_layers(3)
    for name in reference.seeded_weight_names():
        assert torch.equal(after["flow_head." + name], reference.state_dict()[name]), name
    assert not torch.equal(
        after["flow_head.deconv0.0.weight"], Pretrainer(config, tmp_path / "again").model.flow_head.deconv0[0].weight
    )
    assert flow_seed_of(tmp_path / "flow" / "shippable.safetensors") == 3 and "seed 3" in card["flow_head_shipped"]
    # continuing from the whole network under another --seed keeps the layers the head was trained with
    whole = str(tmp_path / "flow" / "pretrained.safetensors")
    assert flow_seed_of(whole) == 3
    more = Pretrainer(PretrainConfig(steps=1, flow_only=True, seed=9, init=whole, **TINY), tmp_path / "more")
    assert more.flow_seed == 3 and torch.equal(more.model.flow_head.conv6_1[0].weight, reference.conv6_1[0].weight)

    # a later stage that leaves the flow head alone keeps shipping it; one that trains it freely cannot
    later = dict(steps=1, init=str(tmp_path / "flow" / "shippable.safetensors"), **TINY)
    assert Pretrainer(PretrainConfig(loss_flow=0.0, **later), tmp_path / "au").flow_seed == 3
    assert Pretrainer(PretrainConfig(**later), tmp_path / "all").flow_seed is None


def test_a_flow_stage_needs_a_start_and_a_flow_loss():
    with pytest.raises(ConfigError, match="--flow-only"):
        PretrainConfig(flow_only=True).validate()
    with pytest.raises(ConfigError, match="--flow-only"):
        PretrainConfig(flow_only=True, init="w.safetensors", loss_flow=0.0).validate()


def test_the_pyramid_loss_compares_each_level_with_the_flow_averaged_to_its_size():
    flow = torch.randn(2, 2, 16, 16)
    exact = tuple(F.avg_pool2d(flow, 2**i)[..., None] for i in range(1, 4))
    assert float(pyramid_loss(exact, flow)) < 1e-12
    off = (exact[0] + 1.0, *exact[1:])  # one level off by 1 px in both directions: MSE 1 of 3 levels
    torch.testing.assert_close(pyramid_loss(off, flow), torch.tensor(1.0 / 3 / FRAME_PAIRS))


def test_a_folder_from_before_a_new_setting_still_resumes(tmp_path):
    trainer = Pretrainer(PretrainConfig(steps=1, **TINY), tmp_path)
    trainer.check_folder()
    saved = json.loads((tmp_path / "pretrain_config.json").read_text())
    del saved["flow_pyramid"]  # written by a version without it
    (tmp_path / "pretrain_config.json").write_text(json.dumps(saved))
    trainer.check_folder()
    with pytest.raises(ConfigError, match="flow_pyramid"):
        Pretrainer(PretrainConfig(steps=1, flow_pyramid=1.0, **TINY), tmp_path).check_folder()
