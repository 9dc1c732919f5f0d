"""Working-directory policy, loopback checks, name checks: pure functions."""

from __future__ import annotations

import os

import pytest

from cao.server.security import is_loopback_host, is_loopback_origin
from cao.terminals.policy import WorkingDirectoryError, check_working_directory
from cao.terminals.tmux import check_name


@pytest.mark.parametrize("path", ["/", "/etc", "/etc/ssh", "/var/log", "/tmp", "/proc/self",
                                  "/sys", "/root", "/boot", "/bin", "/usr/bin", "/usr/sbin", "/lib",
                                  "/lib64", "/dev", "/sbin"])
def test_system_directories_are_refused(path, monkeypatch):
    monkeypatch.delenv("CAO_WORKDIR_ALLOW", raising=False)
    if not os.path.exists(path):
        pytest.skip(f"{path} does not exist here")
    with pytest.raises(WorkingDirectoryError, match="blocked system directory"):
        check_working_directory(path)


def test_symlink_into_a_system_directory_is_refused(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    project.mkdir()
    link = project / "sneaky"
    link.symlink_to("/etc")
    monkeypatch.setenv("CAO_WORKDIR_ALLOW", str(project))
    with pytest.raises(WorkingDirectoryError, match="resolves to '/etc'"):
        check_working_directory(link)


def test_allowed_and_missing_directories(tmp_path, monkeypatch):
    monkeypatch.setenv("CAO_WORKDIR_ALLOW", str(tmp_path))
    assert check_working_directory(tmp_path) == tmp_path.resolve()
    with pytest.raises(WorkingDirectoryError, match="does not exist"):
        check_working_directory(tmp_path / "missing")
    with pytest.raises(WorkingDirectoryError, match="NUL"):
        check_working_directory("/work\x00/x")


def test_usr_local_is_not_blocked_by_usr_bin(tmp_path, monkeypatch):
    monkeypatch.delenv("CAO_WORKDIR_ALLOW", raising=False)
    assert check_working_directory("/usr/local") == __import__("pathlib").Path("/usr/local")


@pytest.mark.parametrize("host,ok", [("localhost", True), ("localhost:9889", True),
                                     ("127.0.0.1:9889", True), ("127.5.5.5", True),
                                     ("[::1]:9889", True), ("::1", True),
                                     ("evil.com", False), ("localhost.evil.com", False),
                                     ("10.0.0.1:9889", False), ("", False)])
def test_loopback_hosts(host, ok):
    assert is_loopback_host(host) is ok


@pytest.mark.parametrize("origin,ok", [("http://localhost:3000", True), ("http://127.0.0.1", True),
                                       ("https://evil.com", False), ("null", False),
                                       ("file://", False)])
def test_loopback_origins(origin, ok):
    assert is_loopback_origin(origin) is ok


@pytest.mark.parametrize("name", ["cao-x", "a", "dev_1.2", "A" * 64])
def test_good_names(name):
    assert check_name("session", name) == name


@pytest.mark.parametrize("name", ["", "-x", "a b", "a;b", "a:b", "$(x)", "a\nb", "A" * 65, "../x"])
def test_bad_names(name):
    with pytest.raises(ValueError, match="invalid session name"):
        check_name("session", name)
