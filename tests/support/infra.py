"""Real BuildKit test infrastructure: buildkitd daemons, buildx builders, a registry.

Plain helpers (no pytest here) so that `tests/conftest.py` and the benchmarks in
`bench/` share them; `python -m tests.support.infra` starts a cluster by hand.
Everything lives under one temporary directory and every process is started in
its own process group, so `stop()` leaves nothing behind.

- `start_buildkitd()`: one rootful buildkitd with the OCI worker (runc, overlayfs),
  its own `--root` and unix socket, claiming the given platforms
  (`--oci-worker-platform`, repeatable: buildkitd reports exactly these).
  A node that claims linux/arm64 on an amd64 host still runs amd64 binaries:
  BuildKit only looks for a `buildkit-qemu-*` emulator and runs natively when
  there is none (solver/llbsolver/ops/exec_binfmt.go), which is what lets the
  tests fake a two-architecture cluster on one machine.
- `isolated_docker_config()`: a DOCKER_CONFIG in the temp dir with the pinned
  buildx plugin linked in, so builders created by tests never touch the user's.
- `create_builder()`: `docker buildx create --driver remote` (+ `--append`).
- `busybox_context()`: a build context holding Debian's static busybox, used as
  `FROM scratch` + `COPY busybox` base for `RUN` steps without any registry.
- `start_registry()`: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1.
- `tls_certificates()`: a CA, a server certificate for 127.0.0.1 and a client
  certificate, made with the openssl CLI; `start_buildkitd(..., tls=...)` then
  also listens on `tcp://127.0.0.1:PORT` with mutual TLS, and
  `create_tls_builder()` makes a `remote` builder that connects with a client
  certificate (buildx's `cacert`, `cert`, `key`, `servername` driver options).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))


class InfraError(RuntimeError):
    """A daemon or registry did not come up; the message carries its log tail."""


def find_tool(name: str) -> str | None:
    """The path of a tool: .tools/bin first (the pinned builds), then PATH."""
    pinned = TOOLS_BIN / name
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return str(pinned)
    return shutil.which(name)


def find_busybox() -> Path | None:
    """Debian's busybox-static binary, when installed and statically linked."""
    for path in BUSYBOX_CANDIDATES:
        if path.is_file():
            return path
    return None


@dataclass
class Process:
    """A started background process (own process group) and its log file."""

    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        """The process id (also its process group id)."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the process's log, for error messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL whatever is left."""
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # The group may hold children (runc) even when the leader is gone.
        _signal_group(self.pid, signal.SIGKILL)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        if "--root" in self.argv:
            unmount_below(Path(self.argv[self.argv.index("--root") + 1]))


def unmount_below(root: Path) -> None:
    """Detach every mount below `root`, deepest first.

    A buildkitd killed in the middle of a build leaves its overlay mounts
    (a step's rootfs, cache mounts) behind; they keep the folder busy, and
    pytest's removal of old temporary folders would then fail in every
    later session on this machine.
    """
    prefix = str(root.resolve()) + "/"
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies (Linux), so a killed test run leaves no daemon."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> Process:
    """Start argv in a new session (own process group), output to `log`; it dies with us."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env=None if env is None else dict(env),
        )
    return Process(argv=list(argv), log=log, popen=popen)


@dataclass
class Daemon:
    """One running buildkitd: a node of the test cluster."""

    name: str
    platforms: tuple[str, ...]
    root: Path
    socket: Path
    process: Process
    config: Path | None = None
    tcp: str = ""  # "tcp://127.0.0.1:PORT" when the daemon also listens with mutual TLS

    @property
    def addr(self) -> str:
        """The daemon's address as buildctl and buildx take it."""
        return f"unix://{self.socket}"


def buildkitd_config(*, max_parallelism: int | None = None, insecure_registries: Sequence[str] = ()) -> str:
    """A buildkitd.toml: optional step limit and plain-HTTP registries."""
    lines: list[str] = []
    if max_parallelism is not None:
        lines += ["[worker.oci]", f"  max-parallelism = {max_parallelism}", ""]
    for host in insecure_registries:
        lines += [f'[registry."{host}"]', "  http = true", "  insecure = true", ""]
    return "\n".join(lines)


def start_buildkitd(
    workdir: Path,
    name: str,
    platforms: Sequence[str],
    *,
    buildkitd: str,
    buildctl: str,
    config_text: str = "",
    timeout: float = 60.0,
    tls: Certificate | None = None,
) -> Daemon:
    """Start a rootful buildkitd (OCI worker, overlayfs) and wait until it answers.

    With `tls` (a server certificate) it also listens on a free
    `tcp://127.0.0.1:PORT` that demands a client certificate signed by
    `tls.ca` (buildkitd's `--tlscacert`); the unix socket stays plain
    (buildkitd never puts TLS on unix sockets), so the helpers here keep using it.
    """
    home = workdir / name
    root = home / "root"
    root.mkdir(parents=True, exist_ok=True)
    sock = home / "buildkitd.sock"
    argv = [buildkitd, "--root", str(root), "--addr", f"unix://{sock}"]
    config: Path | None = None
    if config_text:
        config = home / "buildkitd.toml"
        config.write_text(config_text)
        argv += ["--config", str(config)]
    argv += ["--oci-worker=true", "--containerd-worker=false", "--oci-worker-snapshotter=overlayfs"]
    argv += ["--oci-worker-net=host", "--oci-worker-gc=false"]
    for platform in platforms:
        argv += ["--oci-worker-platform", platform]
    tcp = f"tcp://127.0.0.1:{free_port()}" if tls else ""
    if tls:
        argv += ["--addr", tcp, "--tlscacert", str(tls.ca), "--tlscert", str(tls.cert), "--tlskey", str(tls.key)]
    env = dict(os.environ, PATH=f"{TOOLS_BIN}:{os.environ.get('PATH', '')}")
    process = spawn(argv, home / "buildkitd.log", env)
    daemon = Daemon(name=name, platforms=tuple(platforms), root=root, socket=sock, process=process, config=config,
                    tcp=tcp)
    try:
        wait_for_buildkitd(daemon, buildctl, timeout=timeout)
        if tcp:
            wait_for_port(daemon, timeout=timeout)
    except BaseException:
        process.stop()
        raise
    return daemon


def wait_for_buildkitd(daemon: Daemon, buildctl: str, *, timeout: float) -> None:
    """Poll `buildctl debug workers` until the daemon answers (or give up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not daemon.process.alive():
            raise InfraError(f"buildkitd {daemon.name} exited:\n{daemon.process.log_tail()}")
        if daemon.socket.exists():
            done = subprocess.run(
                [buildctl, "--addr", daemon.addr, "debug", "workers"],
                capture_output=True,
                text=True,
                timeout=15,
                check=False,
            )
            if done.returncode == 0 and len(done.stdout.splitlines()) > 1:
                return
        time.sleep(0.2)
    raise InfraError(f"buildkitd {daemon.name} did not answer in {timeout}s:\n{daemon.process.log_tail()}")


def wait_for_port(daemon: Daemon, *, timeout: float) -> None:
    """Wait until the daemon's TCP address accepts connections (or give up)."""
    host, _, port = daemon.tcp.removeprefix("tcp://").rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not daemon.process.alive():
            raise InfraError(f"buildkitd {daemon.name} exited:\n{daemon.process.log_tail()}")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise InfraError(f"buildkitd {daemon.name} did not listen on {daemon.tcp} in {timeout}s:\n{daemon.process.log_tail()}")


def prune_buildkitd(daemon: Daemon, buildctl: str) -> None:
    """Drop every cache record of a daemon (`buildctl prune --all`)."""
    subprocess.run([buildctl, "--addr", daemon.addr, "prune", "--all"], capture_output=True, check=True, timeout=120)


@dataclass(frozen=True)
class DockerCLI:
    """The docker CLI with the pinned buildx plugin in an isolated DOCKER_CONFIG."""

    docker: str
    config_dir: Path
    env: dict[str, str] = field(hash=False)

    def argv(self, *args: str) -> list[str]:
        """The argv of `docker buildx ARGS...`."""
        return [self.docker, "buildx", *args]

    def run(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run `docker buildx ARGS...`, raising with its output on failure."""
        done = subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise InfraError(f"docker buildx {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done


def isolated_docker_config(workdir: Path, docker: str, plugin: Path) -> DockerCLI:
    """A fresh DOCKER_CONFIG with the buildx plugin linked in (user config untouched)."""
    config = workdir / "docker"
    plugins = config / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "docker-buildx"
    if not link.exists():
        link.symlink_to(plugin.resolve())
    (config / "config.json").write_text("{}\n")
    env = dict(os.environ, DOCKER_CONFIG=str(config), BUILDX_NO_DEFAULT_ATTESTATIONS="1")
    env.pop("BUILDX_BUILDER", None)
    env.pop("DOCKER_HOST", None)
    env.pop("DOCKER_CONTEXT", None)
    return DockerCLI(docker=docker, config_dir=config, env=env)


def create_builder(cli: DockerCLI, name: str, daemons: Sequence[Daemon]) -> str:
    """A `remote`-driver builder NAME holding the daemons as nodes NAME-<daemon>."""
    for index, daemon in enumerate(daemons):
        args = ["create", "--name", name, "--driver", "remote", "--node", f"{name}-{daemon.name}"]
        if index:
            args.append("--append")
        cli.run(*args, daemon.addr)
    cli.run("inspect", "--bootstrap", name, timeout=120)
    return name


def create_tls_builder(cli: DockerCLI, name: str, daemon: Daemon, client: Certificate, *,
                       ca: Path | None = None, servername: str = "127.0.0.1", bootstrap: bool = True) -> str:
    """A single-node `remote` builder NAME for the daemon's TCP address, connecting with `client`.

    `ca` is the CA the builder trusts for the server (default: the one that
    signed `client`). buildx's remote driver takes these as driver options
    (driver/remote/factory.go: absolute paths; `servername` defaults to the
    endpoint's host). A builder meant to fail is created without `bootstrap`.
    """
    if not daemon.tcp:
        raise InfraError(f"buildkitd {daemon.name} was started without tls=")
    options = f"cacert={ca or client.ca},cert={client.cert},key={client.key},servername={servername}"
    cli.run("create", "--name", name, "--driver", "remote", "--driver-opt", options, daemon.tcp)
    if bootstrap:
        cli.run("inspect", "--bootstrap", name, timeout=120)
    return name


def remove_builder(cli: DockerCLI, name: str) -> None:
    """Forget a builder (the remote driver leaves the daemons running)."""
    subprocess.run(cli.argv("rm", name), env=cli.env, capture_output=True, check=False, timeout=60)


def busybox_context(directory: Path, busybox: Path) -> Path:
    """Put the static busybox into a build context dir (for `COPY busybox /bin/busybox`)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "busybox"
    if not target.exists():
        shutil.copy2(busybox, target)
    return directory


# A Dockerfile prelude giving RUN steps a shell without any registry:
# scratch + the static busybox, which installs its applets as symlinks.
BUSYBOX_BASE = """\
FROM scratch AS busybox
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""


@dataclass(frozen=True)
class Certificate:
    """A PEM certificate, its private key, and the certificate of the CA that signed it (a CA: itself)."""

    cert: Path
    key: Path
    ca: Path


@dataclass(frozen=True)
class TLSFiles:
    """What a mutual-TLS test needs: a CA, a server certificate signed by it, a client certificate signed by it."""

    ca: Certificate
    server: Certificate
    client: Certificate


# openssl req needs a config with a distinguished_name section; the `ext`
# section, written per certificate, holds every extension it gets.
_OPENSSL_CONFIG = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n[ext]\n"
_EXTENSIONS = {
    "ca": ["basicConstraints = critical,CA:TRUE", "keyUsage = critical,keyCertSign,cRLSign",
           "subjectKeyIdentifier = hash"],
    # Go's crypto/tls checks the extended key usage of both sides and only
    # reads a server's name from its subjectAltName, never from its CN.
    "server": ["basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
               "extendedKeyUsage = serverAuth"],
    "client": ["basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
               "extendedKeyUsage = clientAuth"],
}


def _openssl(openssl: str, *args: str) -> None:
    done = subprocess.run([openssl, *args], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise InfraError(f"openssl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")


def _key_and_config(openssl: str, directory: Path, name: str, extensions: Sequence[str]) -> tuple[Path, Path]:
    """A new P-256 key `name.key` and an openssl config `name.cnf` whose `ext` section holds `extensions`."""
    directory.mkdir(parents=True, exist_ok=True)
    key, config = directory / f"{name}.key", directory / f"{name}.cnf"
    config.write_text(_OPENSSL_CONFIG + "".join(f"{line}\n" for line in extensions))
    _openssl(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
    key.chmod(0o600)
    return key, config


def make_ca(directory: Path, name: str, *, openssl: str = "openssl") -> Certificate:
    """A self-signed certificate authority `CN=name` valid for two days (name.pem, name.key)."""
    key, config = _key_and_config(openssl, directory, name, _EXTENSIONS["ca"])
    cert = directory / f"{name}.pem"
    _openssl(openssl, "req", "-new", "-x509", "-config", str(config), "-extensions", "ext", "-key", str(key),
             "-subj", f"/CN={name}", "-days", "2", "-out", str(cert))
    return Certificate(cert=cert, key=key, ca=cert)


def issue_certificate(ca: Certificate, directory: Path, name: str, *, usage: str, ip: str | None = None,
                      openssl: str = "openssl") -> Certificate:
    """A `server` or `client` certificate `CN=name` signed by `ca` (with `ip` as its subjectAltName)."""
    lines = [*_EXTENSIONS[usage], *([f"subjectAltName = IP:{ip}"] if ip else [])]
    key, config = _key_and_config(openssl, directory, name, lines)
    request, cert = directory / f"{name}.csr", directory / f"{name}.pem"
    _openssl(openssl, "req", "-new", "-config", str(config), "-key", str(key), "-subj", f"/CN={name}", "-out", str(request))
    _openssl(openssl, "x509", "-req", "-in", str(request), "-CA", str(ca.cert), "-CAkey", str(ca.key),
             "-set_serial", str(int.from_bytes(os.urandom(8), "big") >> 1), "-days", "2",
             "-extfile", str(config), "-extensions", "ext", "-out", str(cert))
    return Certificate(cert=cert, key=key, ca=ca.cert)


def tls_certificates(directory: Path, *, ip: str = "127.0.0.1", openssl: str = "openssl") -> TLSFiles:
    """A CA in `directory` and, signed by it, a server certificate for `ip` and a client certificate."""
    ca = make_ca(directory, "ca", openssl=openssl)
    server = issue_certificate(ca, directory, "server", usage="server", ip=ip, openssl=openssl)
    client = issue_certificate(ca, directory, "client", usage="client", openssl=openssl)
    return TLSFiles(ca=ca, server=server, client=client)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    """A running distribution registry on 127.0.0.1 (plain HTTP)."""

    host: str  # "127.0.0.1:PORT"
    root: Path
    process: Process

    def ref(self, repository: str) -> str:
        """A full reference REGISTRY/REPOSITORY."""
        return f"{self.host}/{repository}"


def start_registry(workdir: Path, binary: str, *, port: int | None = None, timeout: float = 30.0) -> Registry:
    """Start Debian's docker-registry with storage in workdir, listening on 127.0.0.1 only."""
    home = workdir / "registry"
    storage = home / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = home / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n  filesystem:\n"
        f"    rootdirectory: {storage}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = spawn([binary, "serve", str(config)], home / "registry.log")
    registry = Registry(host=f"127.0.0.1:{port}", root=storage, process=process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise InfraError(f"docker-registry exited:\n{process.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return registry
        except OSError:
            time.sleep(0.1)
    process.stop()
    raise InfraError(f"docker-registry did not listen in {timeout}s:\n{process.log_tail()}")


def main() -> None:
    """`python -m tests.support.infra`: start the test cluster by hand and keep it up until Ctrl-C.

    Prints the DOCKER_CONFIG to export and `docker buildx ls`, so that builder
    output of a real two-node builder (`bp-two`) and single-node builders
    (`bp-amd64`, `bp-arm64`) can be looked at or captured.
    """
    import tempfile

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)  # also when started in the background with SIGINT ignored
    signal.signal(signal.SIGTERM, stop)
    tools = {name: find_tool(name) for name in ("docker", "buildkitd", "buildctl")}
    busybox = find_busybox()
    absent = [name for name, path in tools.items() if path is None] + ([] if busybox else ["busybox"])
    if absent:
        raise SystemExit(f"missing: {', '.join(absent)} (run `make tools`)")
    work = Path(tempfile.mkdtemp(prefix="bakeplan-cluster-"))
    daemons: list[Daemon] = []
    try:
        for name, platform in (("amd64", "linux/amd64"), ("arm64", "linux/arm64")):
            daemons.append(start_buildkitd(work, name, [platform], buildkitd=str(tools["buildkitd"]),
                                           buildctl=str(tools["buildctl"])))
        cli = isolated_docker_config(work, str(tools["docker"]), ROOT / ".tools" / "docker" / "cli-plugins" / "docker-buildx")
        create_builder(cli, "bp-two", daemons)
        for daemon in daemons:
            create_builder(cli, f"bp-{daemon.name}", [daemon])
        print(f"export DOCKER_CONFIG={cli.config_dir}")
        print(cli.run("ls").stdout)
        print("Ctrl-C (or SIGTERM) stops the daemons.", flush=True)
        while all(d.process.alive() for d in daemons):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for daemon in daemons:
            daemon.process.stop()
        shutil.rmtree(work, ignore_errors=True)


# --- nodes of one kind (conftest's `amd64_pair`; the same setup as bench/run_bench.py's n1, n2) ---


def start_same_platform_nodes(
    workdir: Path,
    names: Sequence[str],
    platform: str,
    *,
    buildkitd: str,
    buildctl: str,
    max_parallelism: int | None = 1,
    insecure_registries: Sequence[str] = (),
) -> list[Daemon]:
    """Daemons that all claim `platform`, each running at most `max_parallelism` build steps at once.

    They stand for separate machines of one kind: a job runs on whichever the
    scheduler picks, and one node never hides another's slowness by running
    more steps in parallel. If one does not come up, the others are stopped.
    """
    config = buildkitd_config(max_parallelism=max_parallelism, insecure_registries=insecure_registries)
    started: list[Daemon] = []
    try:
        for name in names:
            started.append(start_buildkitd(workdir, name, [platform], buildkitd=buildkitd, buildctl=buildctl,
                                           config_text=config))
    except BaseException:
        for daemon in started:
            daemon.process.stop()
        raise
    return started


if __name__ == "__main__":
    main()
