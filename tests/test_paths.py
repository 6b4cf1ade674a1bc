"""genbench's user cache folder: $GENBENCH_CACHE, else $XDG_CACHE_HOME/genbench, else
~/.cache/genbench; $GENBENCH_DATA and $GENBENCH_FEATURES move one part of it."""

from pathlib import Path

from genbench import paths
from genbench.run.build import default_data_dir


def test_cache_home_follows_genbench_cache_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "mine"))
    assert paths.cache_home() == tmp_path / "mine"
    monkeypatch.delenv("GENBENCH_CACHE")
    assert paths.cache_home() == tmp_path / "xdg" / "genbench"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/xdg")  # the XDG spec: absolute paths only
    assert paths.cache_home() == tmp_path / "home" / ".cache" / "genbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert paths.cache_home() == tmp_path / "home" / ".cache" / "genbench"


def test_data_and_features_live_in_the_cache_unless_moved(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "c"))
    monkeypatch.delenv("GENBENCH_DATA")
    assert default_data_dir() == paths.data_dir() == tmp_path / "c"
    assert paths.features_dir() == tmp_path / "c" / "features"
    monkeypatch.setenv("GENBENCH_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("GENBENCH_FEATURES", str(tmp_path / "f"))
    assert paths.data_dir() == tmp_path / "d" and paths.features_dir() == tmp_path / "f"
    assert paths.fallback_features_dir(tmp_path / "out") == tmp_path / "out" / "features"


def test_tests_never_use_the_real_user_cache():
    """conftest points every test (and the subprocesses and suite runs they start, which inherit
    the environment) at a temporary cache folder."""
    real = Path.home() / ".cache"
    for folder in (paths.cache_home(), paths.data_dir(), paths.features_dir()):
        assert not folder.resolve().is_relative_to(real.resolve()), folder
