"""A real single-node Apache Kafka broker (KRaft mode) for development, tests and CI.

The broker is Apache Kafka itself, run from its official Maven Central jars (the classpath
is listed in ``tools/broker/pom.xml``; Maven copies it into ``.kafka/lib`` on first use).
Everything it writes stays under the git-ignored ``.kafka/`` folder of the repository::

    .kafka/lib/                  jars (from Maven, fetched once)
    .kafka/config/               server.properties and log4j files (rewritten on each start)
    .kafka/data/                 KRaft metadata log + topic data (formatted once)
    .kafka/logs/server.log       the broker's own log (log4j)
    .kafka/logs/broker.out       the JVM's stdout/stderr (early start-up failures land here)
    .kafka/broker.pid            pid of the running broker

Command line::

    python -m tools.broker up [--timeout S]     # start (idempotent), wait until it serves
    python -m tools.broker down [--timeout S]   # SIGTERM, wait, SIGKILL after the timeout
    python -m tools.broker status [--json]      # exit 0 running, 3 stopped, 1 not answering

Environment:

``CLOSECAST_KAFKA_PORT``
    the client port on 127.0.0.1 (default 19092); the KRaft controller listens on the
    next port up (default 19093).
``CLOSECAST_KAFKA_BOOTSTRAP``
    the bootstrap address clients use. When it is set, :func:`start` does not launch a
    broker: it only waits for that address to serve requests (an external broker).
``CLOSECAST_KAFKA_HOME``
    an alternative to ``<repo>/.kafka`` for jars, data, logs and pid file.
``CLOSECAST_KAFKA_HEAP``
    the broker's maximum heap (default ``512m``).

Readiness is a real Kafka round trip: aiokafka's admin client asks the broker for its
cluster metadata, which must list the broker itself and an active controller.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from aiokafka.errors import KafkaError

from streams.worker.settings import (
    LOCAL_HOST,
    LOCAL_PORT,
    SettingsError,
    local_bootstrap,
    local_port,
)

__all__ = [
    "BrokerError",
    "BrokerInfo",
    "BrokerStartError",
    "BrokerStatus",
    "bootstrap_servers",
    "console_produce",
    "ensure_jars",
    "kafka_home",
    "kafka_version",
    "kill_broker",
    "main",
    "port",
    "start",
    "status",
    "stop",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = Path(__file__).resolve().parent / "pom.xml"

DEFAULT_PORT = LOCAL_PORT
HOST = LOCAL_HOST
NODE_ID = 1
DEFAULT_HEAP = "512m"
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"
# Kafka <= 3.9 keeps the console producer in core (Scala); 3.7+ also ships the Java one
# in kafka-tools, which is the only one from 4.0 on. _console_producer_class() picks.
_CONSOLE_PRODUCER_CORE = "kafka.tools.ConsoleProducer"
_CONSOLE_PRODUCER_TOOLS = "org.apache.kafka.tools.ConsoleProducer"
_JARS_MARKER = ".complete"
_LOG_TAIL_LINES = 60


class BrokerError(RuntimeError):
    """Something about the local broker went wrong (jars, process, protocol)."""


class BrokerStartError(BrokerError):
    """The broker did not come up; the message carries the tail of its logs."""


@dataclasses.dataclass(frozen=True)
class BrokerInfo:
    """A broker that answered a Kafka metadata round trip."""

    bootstrap: str
    version: str
    pid: int | None  # None for an external broker (CLOSECAST_KAFKA_BOOTSTRAP)
    started: bool  # True if this call launched the process
    home: Path
    log_file: Path
    startup_seconds: float

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to this broker process (default SIGKILL: an ungraceful crash)."""
        if self.pid is None:
            raise BrokerError("this broker is external (CLOSECAST_KAFKA_BOOTSTRAP); no pid")
        if not _is_broker_process(self.pid):
            raise BrokerError(f"process {self.pid} is no longer the Kafka broker")
        os.kill(self.pid, sig)


@dataclasses.dataclass(frozen=True)
class BrokerStatus:
    """What ``status()`` found. ``running``: the process is alive; ``ready``: it serves."""

    running: bool
    ready: bool
    pid: int | None
    bootstrap: str
    version: str
    home: Path
    log_file: Path
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        out = dataclasses.asdict(self)
        out["home"] = str(self.home)
        out["log_file"] = str(self.log_file)
        return out


# --------------------------------------------------------------------------- settings


def port() -> int:
    """The broker's client port on 127.0.0.1 (env ``CLOSECAST_KAFKA_PORT``)."""
    try:
        return local_port()
    except SettingsError as exc:
        raise BrokerError(str(exc)) from exc


def controller_port() -> int:
    return port() + 1


def bootstrap_servers() -> str:
    """The bootstrap address for clients: ``CLOSECAST_KAFKA_BOOTSTRAP`` or the local broker."""
    try:
        return local_bootstrap()
    except SettingsError as exc:
        raise BrokerError(str(exc)) from exc


def _external_bootstrap() -> str | None:
    return os.environ.get("CLOSECAST_KAFKA_BOOTSTRAP", "").strip() or None


def kafka_home() -> Path:
    """The folder for jars, data, logs and the pid file (default ``<repo>/.kafka``)."""
    raw = os.environ.get("CLOSECAST_KAFKA_HOME", "").strip()
    return Path(raw).resolve() if raw else REPO_ROOT / ".kafka"


def _lib_dir() -> Path:
    return kafka_home() / "lib"


def _data_dir() -> Path:
    return kafka_home() / "data"


def _logs_dir() -> Path:
    return kafka_home() / "logs"


def _config_dir() -> Path:
    return kafka_home() / "config"


def _pid_file() -> Path:
    return kafka_home() / "broker.pid"


def _server_log() -> Path:
    return _logs_dir() / "server.log"


def _jvm_out() -> Path:
    return _logs_dir() / "broker.out"


def kafka_version() -> str:
    """The pinned Kafka version (``kafka.version`` in ``tools/broker/pom.xml``)."""
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", POM.read_text())
    if match is None:
        raise BrokerError(f"no <kafka.version> property in {POM}")
    return match.group(1)


# --------------------------------------------------------------------------- jars


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _jars_ready(lib: Path) -> bool:
    marker = lib / _JARS_MARKER
    if not marker.is_file() or marker.read_text().strip() != _pom_digest():
        return False
    return (lib / f"kafka_2.13-{kafka_version()}.jar").is_file()


def ensure_jars() -> Path:
    """Make sure the Kafka jars are in ``.kafka/lib``; run Maven only when they are missing.

    The jars are fetched into a temporary folder and moved into place only when Maven
    succeeded, so an interrupted fetch never leaves a half-filled ``lib``. Changing the
    pom (e.g. a version bump) triggers a fresh fetch.
    """
    lib = _lib_dir()
    if _jars_ready(lib):
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven ('mvn') is not on PATH; it is needed once to fetch the Kafka jars "
            f"listed in {POM} (Debian: apt-get install -y maven)"
        )
    if _java() is None:
        raise BrokerError("Java ('java') is not on PATH and JAVA_HOME is not set")
    kafka_home().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lib.", dir=kafka_home()))
    cmd = [
        mvn,
        "-B",
        "-ntp",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={tmp}",
    ]
    print(f"[kafka] fetching Kafka {kafka_version()} jars with Maven ...", file=sys.stderr)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise BrokerError(
            f"Maven could not fetch the Kafka jars (exit {proc.returncode}):\n"
            f"  {' '.join(cmd)}\n{tail}"
        )
    (tmp / _JARS_MARKER).write_text(_pom_digest() + "\n")
    if lib.exists():
        shutil.rmtree(lib)
    tmp.rename(lib)
    n = sum(1 for _ in lib.glob("*.jar"))
    print(f"[kafka] {n} jars in {lib} ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
    return lib


def _java() -> str | None:
    java_home = os.environ.get("JAVA_HOME", "").strip()
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("java")


def _java_or_fail() -> str:
    java = _java()
    if java is None:
        raise BrokerError("Java ('java') is not on PATH and JAVA_HOME is not set")
    return java


def _classpath(lib: Path) -> str:
    return str(lib / "*")


def _console_producer_class(lib: Path) -> str:
    entry = _CONSOLE_PRODUCER_TOOLS.replace(".", "/") + ".class"
    for jar in sorted(lib.glob("kafka-tools-*.jar")):
        if "api" in jar.name:
            continue
        with zipfile.ZipFile(jar) as zf:
            if entry in zf.namelist():
                return _CONSOLE_PRODUCER_TOOLS
    return _CONSOLE_PRODUCER_CORE


# --------------------------------------------------------------------------- config


def _server_properties() -> str:
    p, cp = port(), controller_port()
    settings: dict[str, str | int] = {
        # KRaft: one process is both broker and controller.
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{cp}",
        "listeners": f"PLAINTEXT://{HOST}:{p},CONTROLLER://{HOST}:{cp}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{p}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(_data_dir()),
        # A single node: every replication factor / ISR is 1.
        "auto.create.topics.enable": "true",
        "num.partitions": 4,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 8,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 8,
        "group.initial.rebalance.delay.ms": 0,
        # Let fault tests use short consumer session timeouts.
        "group.min.session.timeout.ms": 1000,
        "delete.topic.enable": "true",
        # After an ungraceful kill the restarted broker's registration is refused
        # (DUPLICATE_BROKER_REGISTRATION) until its old session expires: default 9 s.
        "broker.session.timeout.ms": 4000,
        "broker.heartbeat.interval.ms": 500,
        # Small machine (2 cores, shared with tests).
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "background.threads": 4,
        "log.retention.hours": 168,
        "log.segment.bytes": 64 * 1024 * 1024,
        "log.retention.check.interval.ms": 300000,
    }
    lines = [
        "# Written by tools/broker/ on every start; edit that file, not this one.",
        *(f"{k}={v}" for k, v in settings.items()),
    ]
    return "\n".join(lines) + "\n"


_BROKER_LOG4J = """\
# Written by tools/broker/. The broker logs to ${kafka.logs.dir}/server.log.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=INFO
log4j.logger.kafka.authorizer.logger=WARN
"""

_TOOLS_LOG4J = """\
# Written by tools/broker/. Command line tools log warnings to stderr.
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


def _write_tools_log4j() -> Path:
    cfg = _config_dir()
    cfg.mkdir(parents=True, exist_ok=True)
    tools_log4j = cfg / "tools-log4j.properties"
    tools_log4j.write_text(_TOOLS_LOG4J)
    return tools_log4j


def _write_configs() -> tuple[Path, Path, Path]:
    tools_log4j = _write_tools_log4j()
    server = _config_dir() / "server.properties"
    broker_log4j = _config_dir() / "log4j.properties"
    server.write_text(_server_properties())
    broker_log4j.write_text(_BROKER_LOG4J)
    return server, broker_log4j, tools_log4j


def _new_cluster_id() -> str:
    # Kafka's Uuid.toString(): URL-safe base64 of 16 bytes, unpadded, never leading '-'.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _format_storage_once(java: str, lib: Path, server: Path, tools_log4j: Path) -> bool:
    """Format the KRaft storage unless ``meta.properties`` is already there."""
    data = _data_dir()
    if (data / "meta.properties").is_file():
        return False
    data.mkdir(parents=True, exist_ok=True)
    cmd = [
        java,
        "-Xmx256m",
        f"-Dlog4j.configuration={tools_log4j.as_uri()}",
        "-cp",
        _classpath(lib),
        _STORAGE_TOOL,
        "format",
        "-t",
        _new_cluster_id(),
        "-c",
        str(server),
        "--ignore-formatted",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0 or not (data / "meta.properties").is_file():
        raise BrokerStartError(
            f"formatting the KRaft storage failed (exit {proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}"
        )
    return True


# --------------------------------------------------------------------------- processes


def _read_pid_file() -> tuple[int, int] | None:
    """(pid, client port) from the pid file, written as ``<pid> <port>``."""
    try:
        fields = _pid_file().read_text().split()
        pid = int(fields[0])
        recorded_port = int(fields[1]) if len(fields) > 1 else DEFAULT_PORT
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid, recorded_port


def _read_pid() -> int | None:
    entry = _read_pid_file()
    return entry[0] if entry else None


def _is_broker_process(pid: int) -> bool:
    """Is ``pid`` alive (not a zombie) and our Kafka broker (checked via /proc when present)?"""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our own child
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        state = stat.rsplit(")", 1)[-1].split()[0]
        if state in {"Z", "X"}:
            # After SIGKILL the JVM's main thread turns zombie before its other threads
            # (which still hold the listening sockets) are gone: dead only when none is left.
            try:
                return len(os.listdir(proc / "task")) > 1
            except OSError:
                return False
        marker = str(_config_dir() / "server.properties").encode()
        return _MAIN_CLASS.encode() in cmdline and marker in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_pid() -> int | None:
    """The pid of our running broker, cleaning up a stale pid file."""
    pid = _read_pid()
    if pid is None:
        return None
    if _is_broker_process(pid):
        return pid
    with contextlib.suppress(FileNotFoundError):
        _pid_file().unlink()
    return None


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    """Serialise start/stop between processes (e.g. parallel test workers)."""
    home = kafka_home()
    home.mkdir(parents=True, exist_ok=True)
    with (home / "broker.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_LAUNCHER = """\
import subprocess, sys
out = open(sys.argv[1], "ab")
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=out,
                     stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
print(p.pid, flush=True)
p.returncode = 0  # detached on purpose: do not wait, do not warn
"""


def _spawn_detached(cmd: Sequence[str], out_file: Path) -> int:
    """Start ``cmd`` in its own session through a short-lived launcher process.

    The broker is then nobody's child here: it outlives the caller (``up`` exits at once),
    never becomes a zombie of a long test process, and ``Popen`` never warns about it.
    """
    proc = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(out_file), *cmd],
        capture_output=True,
        text=True,
        check=False,
        cwd=str(kafka_home()),
        timeout=60,
    )
    if proc.returncode != 0:
        raise BrokerStartError(f"could not launch the broker JVM:\n{proc.stderr}")
    return int(proc.stdout.strip())


def _heap() -> str:
    heap = os.environ.get("CLOSECAST_KAFKA_HEAP", "").strip() or DEFAULT_HEAP
    if not re.fullmatch(r"\d+[kKmMgG]?", heap):
        raise BrokerError(f"CLOSECAST_KAFKA_HEAP={heap!r} is not a JVM heap size like 512m")
    return heap


def _broker_command(java: str, lib: Path, server: Path, broker_log4j: Path) -> list[str]:
    logs = _logs_dir()
    return [
        java,
        f"-Xmx{_heap()}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-XX:+ExitOnOutOfMemoryError",
        f"-Xlog:gc*:file={logs / 'gc.log'}:time,tags:filecount=2,filesize=10M",
        "-Djava.awt.headless=true",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dkafka.logs.dir={logs}",
        f"-Dlog4j.configuration={broker_log4j.as_uri()}",
        "-cp",
        _classpath(lib),
        _MAIN_CLASS,
        str(server),
    ]


def _tail(path: Path, lines: int, since: int = 0) -> list[str]:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if since > size:  # the log was rolled over since: read what is there
                since = 0
            fh.seek(max(since, size - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


def _log_sizes() -> dict[Path, int]:
    """Current sizes of the broker's logs, so an error shows only this start's lines."""
    sizes: dict[Path, int] = {}
    for path in (_jvm_out(), _server_log()):
        with contextlib.suppress(FileNotFoundError):
            sizes[path] = path.stat().st_size
    return sizes


def log_tail(lines: int = _LOG_TAIL_LINES, since: dict[Path, int] | None = None) -> str:
    """The last lines of the JVM output and of the broker log, for error messages.

    ``since`` (from ``_log_sizes()``) limits each file to what was written after it.
    """
    parts: list[str] = []
    for path, n in ((_jvm_out(), 20), (_server_log(), lines)):
        tail = _tail(path, n, (since or {}).get(path, 0))
        if tail:
            parts.append(f"--- tail of {path} ---")
            parts.extend(tail)
    return "\n".join(parts) if parts else "(the broker wrote no log lines)"


# --------------------------------------------------------------------------- readiness


def probe(bootstrap: str | None = None, timeout: float = 3.0) -> str:
    """Ask the broker at the first bootstrap address for its cluster metadata (aiokafka's
    admin client); raise if it does not answer. The broker counts as ready when the
    metadata lists at least one broker and an active controller. Returns a summary."""
    target = (bootstrap or bootstrap_servers()).split(",")[0].strip()
    return asyncio.run(asyncio.wait_for(_describe(target, timeout), timeout * 2))


async def _describe(target: str, timeout: float) -> str:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=target,
        client_id="closecast-broker-check",
        request_timeout_ms=int(timeout * 1000),
    )
    # A broker still starting refuses connections: the caller retries and reports what
    # failed, so aiokafka's own error line for each refused attempt is noise here.
    client_log = logging.getLogger("aiokafka")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
        client_log.setLevel(level)
    brokers = [f"{b['node_id']}@{b['host']}:{b['port']}" for b in cluster.get("brokers", [])]
    controller = cluster.get("controller_id", -1)
    if not brokers:
        raise ConnectionError("metadata lists no brokers yet")
    if controller is None or controller < 0:
        raise ConnectionError("metadata reports no active controller yet")
    cluster_id = cluster.get("cluster_id")
    return f"cluster {cluster_id}, brokers {', '.join(brokers)}, controller {controller}"


def _probe_ok(bootstrap: str | None = None, timeout: float = 3.0) -> tuple[bool, str]:
    try:
        return True, probe(bootstrap, timeout)
    except (OSError, ConnectionError, ValueError, KafkaError, TimeoutError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _port_taken(p: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, p)) == 0


def _wait_ports_free(timeout: float) -> bool:
    """Wait (briefly) until nothing listens on our ports, e.g. a broker still dying."""
    deadline = time.monotonic() + timeout
    while _port_taken(port()) or _port_taken(controller_port()):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


# --------------------------------------------------------------------------- public API


def status() -> BrokerStatus:
    """Whether our broker process is alive and whether the bootstrap address serves."""
    pid = _running_pid() if _external_bootstrap() is None else None
    bootstrap = bootstrap_servers()
    entry = _read_pid_file()
    if pid is not None and entry is not None:
        bootstrap = f"{HOST}:{entry[1]}"  # where the running broker really listens
    ready, detail = _probe_ok(bootstrap, timeout=2.0)
    running = pid is not None or (_external_bootstrap() is not None and ready)
    return BrokerStatus(
        running=running,
        ready=ready and running,
        pid=pid,
        bootstrap=bootstrap,
        version=kafka_version(),
        home=kafka_home(),
        log_file=_server_log(),
        detail=detail,
    )


def _wait_ready(pid: int | None, deadline: float, since: dict[Path, int] | None = None) -> str:
    last = "not probed yet"
    while True:
        if pid is not None and not _is_broker_process(pid):
            raise BrokerStartError(
                f"the Kafka broker (pid {pid}) exited during start-up\n{log_tail(since=since)}"
            )
        ok, last = _probe_ok(timeout=2.0)
        if ok:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(last)
        time.sleep(0.25)


def start(timeout: float = 90) -> BrokerInfo:
    """Start the broker in the background and wait until it serves Kafka requests.

    Idempotent: a broker that is already running and answering is returned as is
    (``started=False``). Raises :class:`BrokerStartError`, carrying the tail of the
    broker's log, when it does not come up within ``timeout`` seconds; a broker that is
    still starting at that point is stopped again.
    """
    t0 = time.monotonic()
    deadline = t0 + timeout
    external = _external_bootstrap()
    if external is not None:
        try:
            _wait_ready(None, deadline)
        except TimeoutError as exc:
            raise BrokerStartError(
                f"CLOSECAST_KAFKA_BOOTSTRAP={external} does not answer Kafka requests: {exc}"
            ) from exc
        return BrokerInfo(
            bootstrap=external,
            version="external",
            pid=None,
            started=False,
            home=kafka_home(),
            log_file=_server_log(),
            startup_seconds=time.monotonic() - t0,
        )

    with _lock():
        pid = _running_pid()
        started = False
        since: dict[Path, int] | None = None
        entry = _read_pid_file()
        if pid is not None and entry is not None and entry[1] != port():
            raise BrokerStartError(
                f"the local broker (pid {pid}) is running on port {entry[1]}, not {port()} "
                "(CLOSECAST_KAFKA_PORT); stop it first: python -m tools.broker down"
            )
        if pid is None:
            if not _wait_ports_free(min(10.0, timeout)):
                raise BrokerStartError(
                    f"port {port()} or {controller_port()} on {HOST} is already in use by "
                    "a process that is not this checkout's broker; stop it or set "
                    "CLOSECAST_KAFKA_PORT"
                )
            lib = ensure_jars()
            java = _java_or_fail()
            _logs_dir().mkdir(parents=True, exist_ok=True)
            server, broker_log4j, tools_log4j = _write_configs()
            _format_storage_once(java, lib, server, tools_log4j)
            out = _jvm_out()
            since = _log_sizes()
            with out.open("ab") as fh:
                fh.write(f"\n=== start {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            pid = _spawn_detached(_broker_command(java, lib, server, broker_log4j), out)
            _pid_file().write_text(f"{pid} {port()}\n")
            started = True
        try:
            _wait_ready(pid, deadline, since)
        except TimeoutError as exc:
            if started:
                _stop_pid(pid, timeout=15)
            raise BrokerStartError(
                f"the Kafka broker did not serve requests on {bootstrap_servers()} within "
                f"{timeout:g}s (last check: {exc})\n{log_tail(since=since)}"
            ) from exc
        except BrokerStartError:
            with contextlib.suppress(FileNotFoundError):
                _pid_file().unlink()
            raise
    return BrokerInfo(
        bootstrap=bootstrap_servers(),
        version=kafka_version(),
        pid=pid,
        started=started,
        home=kafka_home(),
        log_file=_server_log(),
        startup_seconds=time.monotonic() - t0,
    )


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_broker_process(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _stop_pid(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        print(
            f"[kafka] broker pid {pid} ignored SIGTERM for {timeout:.0f}s; sending SIGKILL",
            file=sys.stderr,
        )
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not _wait_gone(pid, 10):
            raise BrokerError(f"broker pid {pid} survived SIGKILL")
    with contextlib.suppress(FileNotFoundError):
        _pid_file().unlink()


def stop(timeout: float = 30) -> bool:
    """Stop the broker: SIGTERM, wait up to ``timeout`` s, then SIGKILL.

    Returns True if a broker was running (and is now gone), False if none was running.
    """
    with _lock():
        pid = _running_pid()
        if pid is None:
            return False
        _stop_pid(pid, timeout)
        return True


def kill_broker(sig: int = signal.SIGKILL) -> int:
    """Send ``sig`` to the running broker (default SIGKILL, an ungraceful crash).

    Returns the pid signalled. For fault tests: after SIGKILL, :func:`start` brings the
    broker back on the same data (KRaft recovers its logs). After SIGKILL this waits until
    the process is gone: a JVM takes a moment to die, and a :func:`start` in that moment
    found the dying broker "running", waited for it, and failed when it exited.
    """
    pid = _running_pid()
    if pid is None:
        raise BrokerError("no local Kafka broker is running")
    os.kill(pid, sig)
    if sig == signal.SIGKILL and not _wait_gone(pid, 30):
        raise BrokerError(f"broker pid {pid} survived SIGKILL for 30 s")
    return pid


def console_produce(topic: str, lines: list[str], key_separator: str = "\t") -> None:
    """Produce keyed lines with Apache Kafka's own console producer (``parse.key=true``).

    Each line is ``<key><key_separator><value>``. Runs the producer class from the same
    jars as the broker, against :func:`bootstrap_servers`, and waits for it to finish.
    """
    if not topic:
        raise ValueError("topic must not be empty")
    if not key_separator:
        raise ValueError("key_separator must not be empty")
    for i, line in enumerate(lines):
        if "\n" in line or "\r" in line:
            raise ValueError(f"line {i} contains a line break: {line!r}")
        if key_separator not in line:
            raise ValueError(f"line {i} has no key separator {key_separator!r}: {line!r}")
    lib = ensure_jars()
    java = _java_or_fail()
    tools_log4j = _write_tools_log4j()
    cmd = [
        java,
        "-Xmx256m",
        "-XX:TieredStopAtLevel=1",
        f"-Dlog4j.configuration={tools_log4j.as_uri()}",
        "-cp",
        _classpath(lib),
        _console_producer_class(lib),
        "--bootstrap-server",
        bootstrap_servers(),
        "--topic",
        topic,
        "--property",
        "parse.key=true",
        "--property",
        f"key.separator={key_separator}",
        "--producer-property",
        "acks=all",
    ]
    stdin = "".join(f"{line}\n" for line in lines)
    try:
        proc = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, check=False, timeout=120
        )
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(f"the console producer did not finish within 120s: {exc}") from exc
    if proc.returncode != 0:
        raise BrokerError(
            f"the console producer failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )


# --------------------------------------------------------------------------- CLI


def _print_status(st: BrokerStatus) -> None:
    if st.ready:
        state = "running"
    elif st.running:
        state = "running, NOT answering"
    else:
        state = "stopped"
    print(f"kafka {st.version}: {state}")
    print(f"  bootstrap: {st.bootstrap}")
    print(f"  pid:       {st.pid if st.pid is not None else '-'}")
    print(f"  home:      {st.home}")
    print(f"  log:       {st.log_file}")
    if st.running:
        print(f"  check:     {st.detail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.broker",
        description="Run closecast's local single-node Apache Kafka broker (KRaft).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the broker (idempotent) and wait until it serves")
    up.add_argument("--timeout", type=float, default=90.0)
    down = sub.add_parser("down", help="stop the broker (SIGTERM, then SIGKILL)")
    down.add_argument("--timeout", type=float, default=30.0)
    st = sub.add_parser("status", help="exit 0 running, 3 stopped, 1 running but not serving")
    st.add_argument("--json", action="store_true", help="print the status as JSON")
    sub.add_parser("jars", help="fetch the jars only (Maven)")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            info = start(timeout=args.timeout)
            if info.pid is None:
                print(f"external Kafka at {info.bootstrap} answers (CLOSECAST_KAFKA_BOOTSTRAP)")
                return 0
            verb = "started" if info.started else "already running"
            print(
                f"kafka {info.version} {verb} on {info.bootstrap} "
                f"(pid {info.pid}, {info.startup_seconds:.1f}s); log: {info.log_file}"
            )
            return 0
        if args.command == "down":
            t0 = time.monotonic()
            if stop(timeout=args.timeout):
                print(f"kafka stopped ({time.monotonic() - t0:.1f}s)")
            else:
                print("kafka was not running")
            return 0
        if args.command == "status":
            result = status()
            if args.json:
                print(json.dumps(result.as_dict(), indent=2))
            else:
                _print_status(result)
            if result.ready:
                return 0
            return 1 if result.running else 3
        if args.command == "jars":
            print(ensure_jars())
            return 0
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2
