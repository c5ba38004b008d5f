"""Getting a recorded flow out: a short repr, an HTML summary, an xarray.Dataset that reads back exactly, long tables."""

import json
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import wgflow as wg
from wgflow.flows.trajectory import Trajectory

xr = pytest.importorskip("xarray")


def _trained(probe: bool = False) -> Trajectory:
    g = torch.Generator().manual_seed(0)
    teacher = wg.tasks.ReLUTeacher.random(d=3, m0=2, generator=g)
    unit = wg.ReLU(3)
    mu = wg.ParticleMeasure(unit.init(50, generator=g, dtype=torch.float64, kind="sphere"), unit)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64) if probe else None
    return wg.train(mu, wg.PopulationRisk(teacher), wg.FlowConfig(eta=0.5, steps=60, n_snapshots=5), probe=x)


@pytest.fixture(scope="module")
def traj() -> Trajectory:
    return _trained(probe=True)


def assert_same_trajectory(a: Trajectory, b: Trajectory) -> None:
    """Every field equal: arrays value for value (NaN where NaN) with their dtypes and shapes, the final measure's
    positions, weights and unit, and the metadata."""
    for k in Trajectory._ARRAYS:
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert np.array_equal(x, y, equal_nan=True), k
    assert torch.equal(a.final.theta, b.final.theta) and a.final.theta.dtype == b.final.theta.dtype
    assert (a.final.weights is None) == (b.final.weights is None)
    if a.final.weights is not None:
        assert torch.equal(a.final.weights, b.final.weights)
    assert type(a.final.unit) is type(b.final.unit) and a.final.unit.spec() == b.final.unit.spec()
    assert a.meta == b.meta


def test_repr_is_one_short_line(traj):
    r = repr(traj)
    assert len(r) < 300 and "\n" not in r
    assert r.startswith("Trajectory(ReLU(d=3), n=50, p=4, 5 snapshots at steps 0–60")
    assert f"risk at {len(traj.risk)} steps" in r
    html = traj._repr_html_()
    assert "<table>" in html and "n = 50, p = 4" in html and "7 points" in html


def test_to_xarray_layout(traj):
    ds = traj.to_xarray()
    assert ds["theta"].dims == ("snapshot", "particle", "coordinate")
    assert ds["theta"].shape == traj.snapshots.shape
    np.testing.assert_array_equal(ds["step"].values, traj.snapshot_steps)
    np.testing.assert_array_equal(ds["time"].values, traj.snapshot_times)
    assert ds["step"].dims == ds["time"].dims == ("snapshot",)
    assert ds["risk"].dims == ds["train_loss"].dims == ("risk_step",)
    np.testing.assert_array_equal(ds["risk"].sel(risk_step=traj.risk_steps[-1]).values, traj.risk[-1])
    assert ds["probe_f"].dims == ("snapshot", "probe") and ds["probe_f"].shape == (5, 7)
    assert ds.attrs["unit"] == "ReLU(d=3)"
    assert json.loads(ds.attrs["meta"]) == traj.meta
    # snapshot k of theta is the measure the trajectory gives at k
    np.testing.assert_array_equal(ds["theta"].isel(snapshot=2).values, traj.measure_at(2).numpy())


def test_xarray_round_trip_is_exact(traj):
    assert_same_trajectory(Trajectory.from_xarray(traj.to_xarray()), traj)
    bare = _trained(probe=False)  # no probe: probe_f is (0, 0)
    assert_same_trajectory(Trajectory.from_xarray(bare.to_xarray()), bare)


def test_xarray_round_trip_survives_netcdf(traj, tmp_path):
    pytest.importorskip("scipy")
    path = tmp_path / "traj.nc"
    traj.to_xarray().to_netcdf(path, engine="scipy")
    with xr.open_dataset(path, engine="scipy") as ds:
        back = Trajectory.from_xarray(ds.load())
    np.testing.assert_array_equal(back.snapshots, traj.snapshots)
    assert back.meta == traj.meta and back.final.unit.spec() == traj.final.unit.spec()


@settings(max_examples=25, deadline=None)
@given(
    S=st.integers(1, 4),
    n=st.integers(1, 6),
    d=st.integers(1, 3),
    T=st.integers(0, 5),
    P=st.integers(0, 3),
    weighted=st.booleans(),
    float32=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_xarray_round_trip_any_shape(S, n, d, T, P, weighted, float32, seed):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if float32 else np.float64
    unit = wg.ReLU(d)
    w = rng.random(n) + 0.1
    final = wg.ParticleMeasure(
        torch.from_numpy(rng.normal(size=(n, d + 1)).astype(dtype)),
        unit,
        torch.from_numpy((w / w.sum()).astype(dtype)) if weighted else None,
    )
    t = Trajectory(
        snapshots=rng.normal(size=(S, n, d + 1)).astype(dtype),
        snapshot_steps=np.sort(rng.integers(0, 100, S)),
        snapshot_times=rng.random(S),
        risk=rng.random(T),
        risk_steps=np.arange(T) * 10,
        risk_times=np.arange(T) * 0.5,
        train_loss=np.where(np.arange(T) == 0, np.nan, rng.random(T)),
        probe_f=rng.normal(size=(S, P)) if P else np.zeros((0, 0)),
        final=final,
        meta={"alpha": 1.0, "n": n, "flow": {"eta": 0.5, "schedule": "constant", "batch_schedule": []}},
    )
    assert_same_trajectory(Trajectory.from_xarray(t.to_xarray()), t)


def test_long_dataframes(traj):
    pytest.importorskip("pandas")
    df = traj.to_dataframe()
    S, n, p = traj.snapshots.shape
    assert len(df) == S * n * p
    assert list(df.columns) == ["snapshot", "step", "time", "particle", "coordinate", "theta"]
    row = df[(df.snapshot == 3) & (df.particle == 17) & (df.coordinate == 2)]
    assert row.theta.item() == traj.snapshots[3, 17, 2] and row.step.item() == traj.snapshot_steps[3]
    risk = traj.to_dataframe("risk")
    assert list(risk.columns) == ["step", "time", "risk", "train_loss"] and len(risk) == len(traj.risk)
    np.testing.assert_array_equal(risk.risk.values, traj.risk)
    with pytest.raises(ValueError, match="particles"):
        traj.to_dataframe("everything")


@pytest.mark.parametrize("module, method", [("xarray", "to_xarray"), ("pandas", "to_dataframe")])
def test_a_missing_optional_dependency_names_its_extra(traj, monkeypatch, module, method):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    with pytest.raises(ImportError, match=rf"wgflow\[{module}\]"):
        getattr(traj, method)()
