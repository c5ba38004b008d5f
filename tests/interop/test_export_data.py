"""pandas / TensorBoard exports of the store; torch Datasets, CSV and .npz files as data."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import wgflow as wg
from wgflow.errors import ConfigError
from wgflow.objectives.data import as_tensors
from wgflow.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "runs")
    for seed, drop in ((0, 2.5), (1, 0.5)):
        rid = s.create_run("toy", {"n": 8, "eta": 0.5}, seed, preset="quick")
        s.log_metrics(rid, [("risk", k, 1.0 / (k + 1)) for k in range(0, 30, 10)])
        s.complete_run(
            rid,
            [
                {
                    "name": "drop",
                    "statement": "risk falls",
                    "expected": ">= 1",
                    "measured": drop,
                    "tolerance": None,
                    "passed": drop >= 1,
                }
            ],
            [("risk_final", None, 0.1 * (seed + 1))],
        )
    return s


def test_load_runs_is_a_dataframe_of_runs_claims_and_metrics(store):
    pd = pytest.importorskip("pandas")
    runs = wg.interop.load_runs(store)
    assert isinstance(runs, pd.DataFrame) and len(runs) == 2
    by_seed = runs.set_index("seed")
    assert by_seed.loc[0, "claim.drop"] and not by_seed.loc[1, "claim.drop"]
    assert by_seed.loc[1, "metric.risk_final"] == pytest.approx(0.2) and by_seed.loc[0, "config.eta"] == 0.5
    claims = wg.interop.load_runs(store.root, what="claims")
    assert list(claims["passed"].sort_values()) == [False, True]
    metrics = wg.interop.load_runs(store, what="metrics")
    series = metrics[metrics["name"] == "risk"]
    assert len(series) == 6 and set(series["step"]) == {0, 10, 20}
    with pytest.raises(ValueError, match="what must be"):
        wg.interop.load_runs(store, what="everything")


def test_tensorboard_scalars_read_back(store, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from wgflow.interop.export import to_tensorboard

    dirs = to_tensorboard(store, tmp_path / "tb")
    assert len(dirs) == 2
    acc = EventAccumulator(dirs[0])
    acc.Reload()
    risk = acc.Scalars("risk")
    assert [e.step for e in risk] == [0, 10, 20]
    assert [e.value for e in risk] == pytest.approx([1.0, 1 / 11, 1 / 21], rel=1e-6)
    assert "summary/risk_final" in acc.Tags()["scalars"]


def test_observer_writes_loss_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    with wg.interop.watch(model, every=2, tensorboard=tmp_path / "tb") as obs:
        for k in range(6):
            obs.step(float(k))
    obs._tb.close()
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("wgflow/loss")] == [(2, 1.0), (4, 3.0), (6, 5.0)]


class Pairs(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_dataset_risk_accepts_datasets_and_loaders():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 3, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    unit = wg.ReLU(3)
    mu = wg.ParticleMeasure(unit.init(16, generator=g, dtype=torch.float64), unit)
    want = float(wg.DatasetRisk(x, y).risk(mu))
    state = torch.random.get_rng_state()
    for data in (
        Pairs(x, y),
        TensorDataset(x, y[:, None]),
        DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True),
    ):
        assert float(wg.DatasetRisk(data).risk(mu)) == pytest.approx(want, rel=1e-14)
    assert torch.equal(torch.random.get_rng_state(), state)  # reading a shuffled loader drew no random numbers
    xs, ys = as_tensors(Pairs(x, y), limit=5)
    assert torch.equal(xs, x[:5]) and torch.equal(ys, y[:5])


def test_csv_and_npz_files(tmp_path):
    x = np.arange(12.0).reshape(6, 2)
    y = x.sum(1)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.savetxt(tmp_path / "d.csv", np.column_stack([x, y]), delimiter=",", header="a,b,y", comments="")
    for f in ("d.npz", "d.csv"):
        xt, yt = wg.interop.load_xy(tmp_path / f)
        assert xt.dtype == torch.float64 and np.array_equal(xt.numpy(), x) and np.array_equal(yt.numpy(), y)
    xt, yt = wg.interop.load_xy(tmp_path / "d.csv", y_column=0)
    assert np.array_equal(yt.numpy(), x[:, 0])


@pytest.mark.parametrize(
    "name,content,match",
    [
        ("a.txt", "1,2\n", "must be .csv or .npz"),
        ("missing.csv", None, "no such data file"),
        ("ragged.csv", "1,2,3\n4,5\n", "row 2 has 2 columns"),
        ("words.csv", "1,2\nx,y\n", "not a table of numbers"),
        ("one.csv", "1\n2\n", "at least two columns"),
        ("nan.csv", "1,nan\n2,3\n", "NaN or Inf"),
        ("empty.csv", "a,b\n", "no data rows"),
    ],
)
def test_bad_data_files_are_one_line_config_errors(tmp_path, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=match) as e:
        wg.interop.load_xy(path)
    assert "\n" not in str(e.value)


def test_bad_npz_files(tmp_path):
    np.savez(tmp_path / "k.npz", inputs=np.zeros((3, 2)), y=np.zeros(3))
    with pytest.raises(ConfigError, match="no array 'x' \\(arrays: inputs, y\\)"):
        wg.interop.load_xy(tmp_path / "k.npz")
    assert wg.interop.load_xy(tmp_path / "k.npz", x_key="inputs")[0].shape == (3, 2)
    np.savez(tmp_path / "m.npz", x=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(ConfigError, match="one value per sample"):
        wg.interop.load_xy(tmp_path / "m.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match=r"not a readable \.npz"):
        wg.interop.load_xy(tmp_path / "junk.npz")
