"""Where a system install of airlock puts things.

    path                               owner            mode  what
    /etc/airlock/airlock.toml          root             0644  the configuration (no credential in it)
    /etc/airlock/setup.json            root             0644  what `airlock setup` did (for --undo, doctor)
    /var/lib/airlock/                  airlock          0700  state: database, keys, vault, credentials
    /var/lib/airlock/credentials/      airlock          0700  credentials moved into airlock's custody
    /var/lib/airlock/recovered/        airlock          0700  the original files they came from, 0600
    /run/airlock/hooks.sock            airlock:agents   0660  the hooks socket (folder 0710)
    /opt/airlock/venv/                 root             0755  the code `airlock up` runs (not editable)
    /usr/local/bin/airlock             root             0755  `airlock`, with the configuration above
    /etc/systemd/system/airlock.service root            0644  the service (where systemd runs)

`--root DIR` puts every one of these under DIR (tests, images being built); the users and groups
are the machine's own either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SERVICE_NAME = "airlock.service"


@dataclass(frozen=True, slots=True)
class Layout:
    root: Path
    etc_dir: Path
    state_dir: Path
    run_dir: Path
    install_dir: Path
    unit_path: Path
    wrapper_path: Path

    @classmethod
    def under(cls, root: Path | str = "/") -> Layout:
        base = Path(root).resolve()

        def at(path: str) -> Path:
            return base / path.lstrip("/")

        return cls(root=base, etc_dir=at("/etc/airlock"), state_dir=at("/var/lib/airlock"),
                   run_dir=at("/run/airlock"), install_dir=at("/opt/airlock"),
                   unit_path=at(f"/etc/systemd/system/{SERVICE_NAME}"),
                   wrapper_path=at("/usr/local/bin/airlock"))

    @property
    def config_path(self) -> Path:
        return self.etc_dir / "airlock.toml"

    @property
    def record_path(self) -> Path:
        return self.etc_dir / "setup.json"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "hooks.sock"

    @property
    def venv(self) -> Path:
        return self.install_dir / "venv"

    @property
    def venv_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def venv_airlock(self) -> Path:
        return self.venv / "bin" / "airlock"

    @property
    def credentials_dir(self) -> Path:
        return self.state_dir / "credentials"

    @property
    def recovered_dir(self) -> Path:
        return self.state_dir / "recovered"

    @property
    def is_default(self) -> bool:
        return self.root == Path("/")
