"""Particle pictures: plane basis, |c| w positions, PNG figure and animated GIF."""

import numpy as np
import pytest
from PIL import Image

from wgflow.plotting.figures import particle_animation, particle_figure, plane_basis, unit_positions

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # one torch thread on shared CI cores


def test_plane_basis_orthonormal_and_spans_directions():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 6))
    B = plane_basis(w)
    np.testing.assert_allclose(B @ B.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(w[:2] @ B.T @ B, w[:2], atol=1e-12)  # first two directions lie in the plane
    B1 = plane_basis(w[:1])  # one direction: completed by a coordinate axis
    np.testing.assert_allclose(B1 @ B1.T, np.eye(2), atol=1e-12)


def test_unit_positions_are_abs_c_times_w():
    theta = np.array([[[-2.0, 1.0, 0.0, 5.0], [0.5, 0.0, 2.0, 5.0]]])  # (S=1, n=2, p=4)
    B = np.eye(3)[:2]
    np.testing.assert_allclose(unit_positions(theta, B), [[[2.0, 0.0], [0.0, 1.0]]])
    # extra columns (a tangent model's anchor) are ignored
    np.testing.assert_allclose(unit_positions(np.concatenate([theta, theta], -1), B), unit_positions(theta, B))


@pytest.fixture
def snaps():
    rng = np.random.default_rng(1)
    return np.cumsum(0.1 * rng.normal(size=(6, 10, 4)), axis=0)  # (S, n, p)


def test_png_and_gif(tmp_path, snaps):
    teacher = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
    B = plane_basis(teacher[:, 1:])
    fig = particle_figure(snaps, B, teacher, title="t")
    fig.savefig(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").size[0] > 100
    write = particle_animation(snaps, B, teacher, times=np.arange(6.0), tail=3)
    write(tmp_path / "p.gif")
    im = Image.open(tmp_path / "p.gif")
    assert im.format == "GIF" and im.n_frames == snaps.shape[0]
