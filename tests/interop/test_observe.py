"""wg.interop.watch records a user's own loop without changing it, in bounded memory, as a usable Trajectory."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import wgflow as wg
from wgflow.store import Store

D, N = 3, 40


def _data(seed=0, m=256):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, D, generator=g)
    y = torch.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2]
    return x, y


def _train(steps=60, watch=None, lr=1e-2, seed=0, only_output=False):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(D, N), nn.ReLU(), nn.Linear(N, 1))
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)  # draws from the global RNG
    params = model[2].parameters() if only_output else model.parameters()
    opt = torch.optim.Adam(params, lr=lr)
    obs = None if watch is None else wg.interop.watch(model, data=loader, **watch)
    k, losses = 0, []
    while k < steps:
        for xb, yb in loader:
            loss = ((model(xb).squeeze(1) - yb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            k += 1
            losses.append(loss.item())
            if obs is not None:
                obs.step(loss)
            if k == steps:
                break
    return model, obs, losses


def test_observer_does_not_change_training_bitwise(one_torch_thread):
    plain, _, _ = _train()
    watched, obs, _ = _train(watch=dict(every=3, snapshots="fixed", max_snapshots=6, tensorboard=None))
    for p, q in zip(plain.parameters(), watched.parameters()):
        assert torch.equal(p, q)
    assert obs.steps == 60


def test_snapshots_are_the_models_particles_and_losses_are_recorded(one_torch_thread):
    model, obs, losses = _train(steps=40, watch=dict(every=5, snapshots="fixed", max_snapshots=64))
    traj = obs.trajectory()
    assert list(traj.snapshot_steps) == list(range(0, 41, 5))
    assert list(traj.risk_steps) == list(range(5, 41, 5))
    np.testing.assert_allclose(traj.risk, [losses[k - 1] for k in traj.risk_steps], rtol=1e-7)
    assert np.array_equal(traj.snapshots[-1], wg.interop.from_module(model).theta.numpy())
    assert np.array_equal(traj.final.theta.numpy(), traj.snapshots[-1])
    # the probe outputs are the user's network (output bias included) at the last snapshot
    x = obs.probe
    np.testing.assert_allclose(traj.probe_f[-1], model(x).squeeze(1).detach().double().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule", ["fixed", "log"])
def test_memory_is_bounded_for_any_run_length(schedule):
    model = nn.Sequential(nn.Linear(D, 8), nn.Tanh(), nn.Linear(8, 1))
    obs = wg.interop.watch(model, every=1, snapshots=schedule, max_snapshots=8)
    for _ in range(5000):
        with torch.no_grad():
            model[0].weight.add_(1e-3)
        obs.step(1.0)
    assert len(obs._snaps) <= 8
    steps = obs.trajectory().snapshot_steps
    assert steps[0] == 0 and steps[-1] == 5000 and np.all(np.diff(steps) > 0)
    inner = np.diff(steps[:-1])
    if schedule == "fixed":  # equally spaced after thinning
        assert len(set(inner)) == 1
    else:  # log-spaced: step ratios roughly constant, gaps growing
        assert np.all(np.diff(inner) >= 0)


def test_diagnostics_on_a_watched_run(one_torch_thread):
    _, obs, _ = _train(steps=80, watch=dict(every=4, snapshots="log"), lr=3e-2)
    traj = obs.trajectory()
    w2 = wg.transport.w2_from_start(traj)
    move = wg.flows.relative_movement(traj)
    assert w2[0] == 0 and w2[-1] > 0 and move[0] == 0 and move[-1] > 0
    assert w2[-1] <= wg.transport.tracked_w2(traj.snapshots[-1], traj.snapshots[0]) * (1 + 1e-9)
    gap = wg.flows.linearisation_gap(traj, obs.probe)
    assert gap[0] == 0 and gap[-1] > 1e-3  # the hidden layer moved: f is not its linearisation
    fig = wg.interop.plot_particles(traj)
    assert fig.axes and wg.interop.plot_flow(traj, w2).axes


def test_only_output_layer_trained_is_exactly_linear(one_torch_thread):
    """f is linear in the output weights c: training only them leaves a zero linearisation gap."""
    _, obs, _ = _train(steps=40, watch=dict(every=4), lr=3e-2, only_output=True)
    traj = obs.trajectory()
    assert np.array_equal(traj.snapshots[-1][:, 1:], traj.snapshots[0][:, 1:])
    gap = wg.flows.linearisation_gap(traj, obs.probe)
    assert gap[-1] < 1e-10
    assert wg.flows.lazy_or_active(traj, obs.probe).label == "lazy"


def test_saved_run_lands_in_store_and_report(tmp_path, one_torch_thread):
    _, obs, _ = _train(steps=30, watch=dict(every=5))
    store = Store(tmp_path / "runs")
    rid = obs.save(store, name="my-net", config={"lr": 1e-2})
    run = store.get_run(rid)
    assert run["status"] == "completed" and run["experiment"] == "my-net" and run["config"]["lr"] == 0.01
    assert run["versions"]["python"] and run["host"]  # recorded with its provenance, as the runner's runs are
    figs = {a["name"] for a in store.artifacts(rid, kind="figure")}
    assert figs == {"particles", "flow"}
    arr = store.artifacts(rid, kind="array")[0]["path"]
    back = wg.Trajectory.load(arr)
    assert np.array_equal(back.snapshots, obs.trajectory().snapshots)
    m = store.summary_metrics(rid)
    assert m["w2_from_start"] > 0 and "linearisation_gap" in m
    from wgflow.report import render_report

    html = render_report(store)
    assert 'id="exp-my-net"' in html and "data:image/png;base64" in html


def test_bad_arguments_fail_clearly():
    model = nn.Sequential(nn.Linear(D, 4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="every"):
        wg.interop.watch(model, every=0)
    with pytest.raises(ValueError, match="snapshots"):
        wg.interop.watch(model, snapshots="linear")


@pytest.mark.parametrize("name", ["../../../X", "a/b", "x<y", ""])
def test_an_unsafe_observer_name_writes_nothing_outside_the_store(tmp_path, name, one_torch_thread):
    # issue 30: the name became part of the figures' paths (../../../X_flow.png landed outside the store)
    _, obs, _ = _train(steps=10, watch=dict(every=5))
    store = Store(tmp_path / "deep" / "er" / "runs")
    with pytest.raises(wg.ConfigError, match="not a safe name"):
        obs.save(store, name=name)
    assert store.runs() == [] and not (store.root / "runs").exists()
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".png", ".pdf", ".svg")]
