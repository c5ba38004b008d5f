"""A run's trajectories in the store (ctx.save_trajectory), loaded by run id, and a run in TensorBoard:
scalars, hparams, figures, particle histograms."""

import numpy as np
import pytest
import torch

import wgflow as wg
from wgflow.harness.store_context import StoreContext
from wgflow.store import Store


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A store with one run that saved a trajectory, a PNG figure and metrics, as an experiment does."""
    import matplotlib.figure

    g = torch.Generator().manual_seed(0)
    teacher = wg.tasks.ReLUTeacher.random(d=3, m0=2, generator=g)
    unit = wg.ReLU(3)
    mu = wg.ParticleMeasure(unit.init(40, generator=g, dtype=torch.float64, kind="sphere"), unit)
    traj = wg.train(mu, wg.PopulationRisk(teacher), wg.FlowConfig(eta=0.5, steps=40, n_snapshots=4))
    root = tmp_path_factory.mktemp("st")
    with Store.using(root) as store:
        rid = store.create_run("toy", {"n": 40, "eta": 0.5, "init": "sphere", "grid": [1, 2]}, 3, preset="quick")
        ctx = StoreContext(store, rid, 3, show_progress=False, quiet=True)
        ctx.save_trajectory("flow", traj)
        fig = matplotlib.figure.Figure(figsize=(2, 2))
        fig.add_subplot().plot(traj.risk_steps, traj.risk)
        ctx.save_figure("risk_curve", fig)
        ctx.log_metric("risk", float(traj.risk[0]), step=0)
        store.complete_run(rid, [], [("risk_final", None, float(traj.risk[-1]))])
    return root, rid, traj


def test_a_saved_trajectory_loads_back_by_run_id(recorded):
    root, rid, traj = recorded
    back = wg.interop.load_trajectory(root, rid, "flow")
    for k in wg.Trajectory._ARRAYS:
        assert np.array_equal(getattr(back, k), getattr(traj, k), equal_nan=True), k
    assert torch.equal(back.final.theta, traj.final.theta)
    assert np.array_equal(wg.interop.load_trajectory(root, rid).snapshots, traj.snapshots)  # the only one
    with Store.using(root) as store:
        (art,) = store.artifacts(rid, kind="trajectory")
        assert art["name"] == "flow" and art["path"].endswith("flow.npz") and art["sha256"]
    with pytest.raises(KeyError, match=r"no trajectory 'other' \(its trajectories: flow\)"):
        wg.interop.load_trajectory(root, rid, "other")
    with pytest.raises(KeyError, match="no run 'nope'"):
        wg.interop.load_trajectory(root, "nope")


def test_a_loaded_trajectory_goes_on_to_xarray(recorded):
    pytest.importorskip("xarray")
    root, rid, traj = recorded
    ds = wg.interop.load_trajectory(root, rid, "flow").to_xarray()
    assert (ds.sizes["snapshot"], ds.sizes["particle"], ds.sizes["coordinate"]) == (4, 40, 4)
    assert np.array_equal(ds["step"].values, traj.snapshot_steps)


def test_tensorboard_gets_hparams_figures_and_particle_histograms(recorded, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    root, rid, traj = recorded
    (path,) = wg.interop.to_tensorboard(root, tmp_path / "tb")
    acc = EventAccumulator(path, size_guidance={"images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    assert "figures/risk_curve" in tags["images"]
    img = acc.Images("figures/risk_curve")[0]
    with Store.using(root) as store:
        (png,) = [a["path"] for a in store.artifacts(rid, kind="figure") if a["path"].endswith(".png")]
    from matplotlib.image import imread

    assert (img.height, img.width) == imread(png).shape[:2]  # the figure as saved
    for j in range(traj.snapshots.shape[-1]):
        hist = acc.Histograms(f"flow/theta_{j}")
        assert [h.step for h in hist] == [int(s) for s in traj.snapshot_steps]
        assert hist[-1].histogram_value.num == 40
        assert hist[-1].histogram_value.min == pytest.approx(traj.snapshots[-1, :, j].min())
    session = [
        plugin_data_pb2.HParamsPluginData.FromString(content) for content in acc.PluginTagToContent("hparams").values()
    ]
    starts = [s.session_start_info for s in session if s.HasField("session_start_info")]
    (start,) = starts
    assert start.hparams["n"].number_value == 40 and start.hparams["init"].string_value == "sphere"
    assert start.hparams["preset"].string_value == "quick" and start.hparams["seed"].number_value == 3
    assert "grid" not in start.hparams  # a list is no hparam
    (exp,) = [s.experiment for s in session if s.HasField("experiment")]
    assert [m.name.tag for m in exp.metric_infos] == ["summary/risk_final"]


def test_mlflow_gets_params_metrics_claims_and_files_once(recorded, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3's file store (no database server here)
    from mlflow.tracking import MlflowClient

    root, rid, traj = recorded
    ids = wg.interop.to_mlflow(root, tmp_path / "mlruns")
    assert list(ids) == [rid]
    client = MlflowClient(tracking_uri="file://" + str(tmp_path / "mlruns"))
    run = client.get_run(ids[rid])
    assert run.data.tags["wgflow.run_id"] == rid and run.data.tags["wgflow.experiment"] == "toy"
    assert run.data.params["config.n"] == "40" and run.data.params["config.grid"] == "[1, 2]"
    assert run.data.params["seed"] == "3" and run.info.status == "FINISHED"
    assert run.data.metrics["summary.risk_final"] == pytest.approx(float(traj.risk[-1]))
    assert [m.step for m in client.get_metric_history(ids[rid], "risk")] == [0]
    files = {f.path for d in ("figure", "trajectory") for f in client.list_artifacts(ids[rid], d)}
    assert {"trajectory/flow.npz", "figure/risk_curve.png"} <= files
    assert wg.interop.to_mlflow(root, tmp_path / "mlruns") == ids  # exported once
    assert len(client.search_runs([run.info.experiment_id])) == 1
