"""A real Airflow deployment for end-to-end tests, started from scratch and torn down completely.

`PostgresCluster` runs a private PostgreSQL server (initdb, then postgres as a child process) in a temp
dir on a free loopback port. `AirflowDeployment` runs `airflow db migrate`, then the api-server (the
workers call its execution API), scheduler (LocalExecutor), dag-processor and any number of triggerers,
each in its own process group so that a test can kill -9 one of them. Every process carries a marker in
its environment, so teardown also finds stragglers that left their group, and dies with the test
process if that is killed. Logs go to one file per process; `log_tails()` gives their ends. State is
read from Airflow's own metadata database and REST API and from the executor's worker processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
import requests

T = TypeVar("T")

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
MARKER_VAR = "CHAT_ALERTS_E2E_DEPLOYMENT"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)
        last = check()
    return last


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return "(no log)"
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 200_000))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to a process, its process group and every descendant still alive."""
    try:
        proc = psutil.Process(pid)
        family = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(sig)


try:  # loaded here: a child may no longer be allowed to read the library after switching users
    import ctypes

    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    """In a child before exec: get SIGKILL if the test process dies, so no component outlives a crash."""
    if _prctl is not None:
        _prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def find_pg_bin() -> Path:
    env = os.environ.get("PG_BIN")
    for candidate in ([env] if env else []) + list(PG_BIN_CANDIDATES):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise FileNotFoundError(f"PostgreSQL binaries not found (set PG_BIN; looked in {PG_BIN_CANDIDATES})")


class PostgresCluster:
    """A throwaway PostgreSQL server on 127.0.0.1: trust auth, durability off (tests only).

    The server runs as a child of the test process (not daemonised by pg_ctl), so it dies with it.
    PostgreSQL refuses to run as root: as root, its files and processes belong to the ``postgres``
    system user.
    """

    def __init__(self, bin_dir: Path | None = None, user: str = "airflow", database: str = "airflow"):
        self.bin_dir = bin_dir or find_pg_bin()
        self.user = user
        self.database = database
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="chat-alerts-pg-", dir="/tmp" if os.geteuid() == 0 else None))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.process: subprocess.Popen | None = None
        self._as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={self.database}"

    def start(self) -> PostgresCluster:
        import psycopg2

        subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8"],
            check=True, capture_output=True, timeout=120, cwd=self.root, **self._as_user,
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                 "-k", str(self.root), "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=300"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root,
                start_new_session=True, preexec_fn=_die_with_parent, **self._as_user,
            )

        admin_dsn = self.dsn.replace(f"dbname={self.database}", "dbname=postgres")

        def accepting() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{tail(self.log)}")
            try:
                psycopg2.connect(admin_dsn).close()
            except psycopg2.OperationalError:
                return False
            return True

        wait_until(accepting, timeout=60, what="PostgreSQL to accept connections", interval=0.2)
        with contextlib.closing(psycopg2.connect(admin_dsn)) as conn:
            conn.autocommit = True
            conn.cursor().execute(f'CREATE DATABASE "{self.database}"')
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT: disconnect clients, stop), then SIGKILL if it lingers."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_tree(self.process.pid)
            self.process.wait(timeout=10)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Component:
    """One long-running Airflow command (scheduler, triggerer, ...) in its own process group."""

    name: str
    popen: subprocess.Popen
    log: Path
    capacity: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class AirflowDeployment:
    """A from-scratch Airflow deployment: LocalExecutor, PostgreSQL, api-server, scheduler, triggerers.

    :param root: a directory for AIRFLOW_HOME, the DAGs folder and the logs.
    :param db_url: the SQLAlchemy URL of the metadata database.
    :param db_dsn: the psycopg2 DSN of the same database (for reading state).
    :param dag_sources: directories whose ``*.py`` files are copied into the DAGs folder.
    :param extra_env: more environment for every Airflow process (e.g. the Slack connection).
    """

    root: Path
    db_url: str
    db_dsn: str
    dag_sources: Sequence[Path]
    extra_env: dict[str, str] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    triggerer_jobs: dict[str, int] = field(default_factory=dict)
    _db: Any = None

    def __post_init__(self) -> None:
        self.home = self.root / "airflow-home"
        self.dags = self.root / "dags"
        self.logs = self.root / "process-logs"
        for d in (self.home, self.dags, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        for source in self.dag_sources:
            for path in sorted(Path(source).glob("*.py")):
                shutil.copy2(path, self.dags / path.name)
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.marker = uuid.uuid4().hex
        self.env = self._environment()
        self._session = requests.Session()

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                MARKER_VAR: self.marker,
                "AIRFLOW_HOME": str(self.home),
                "PYTHONUNBUFFERED": "1",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "2",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "200",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "400",
                "AIRFLOW__CORE__FERNET_KEY": "",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                # Workers (task supervisors) talk to the api-server's execution API, signed with this secret.
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-" + self.marker,
                "AIRFLOW__API_AUTH__JWT_ISSUER": "chat-alerts-e2e",
                "AIRFLOW__API__SECRET_KEY": "e2e-api-" + self.marker,
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
                # Quick reactions, but not so eager that five processes starve two cores.
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
                # A task supervisor can miss its task process's exit until its next wake-up, up to this
                # many seconds: at the default (5) a third of the workloads hold their slot 5 s too long.
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                # A killed triggerer's triggers move to a live one once its heartbeat is this old.
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            }
        )
        env.update(self.extra_env)
        return env

    # -- processes -----------------------------------------------------------------------------

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run one airflow CLI command to completion (output appended to process-logs/cli.log)."""
        with (self.logs / "cli.log").open("ab") as log:
            log.write(f"\n$ airflow {' '.join(args)}\n".encode())
            log.flush()
            result = subprocess.run(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        if result.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{tail(self.logs / 'cli.log')}")
        return result

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Component:
        """Start ``airflow ARGS`` as component ``name`` in its own process group."""
        if name in self.components and self.components[name].alive():
            raise RuntimeError(f"{name} is already running")
        log = self.logs / f"{name}.log"
        with log.open("ab") as fh:
            fh.write(f"\n==== start {time.strftime('%H:%M:%S')}: airflow {' '.join(args)}\n".encode())
            fh.flush()
            popen = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env={**self.env, **(env or {})},
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.components[name] = Component(name, popen, log)
        return self.components[name]

    def start_triggerer(self, name: str = "triggerer", capacity: int | None = None, wait: bool = True) -> Component:
        """Start a triggerer; each one serves its logs on its own port, so several fit on one host.

        With ``wait`` (needs a migrated database), wait until its job row appears and remember its id
        in ``triggerer_jobs[name]`` (the ``trigger.triggerer_id`` of the triggers it runs).
        """
        before = {row[0] for row in self.sql("SELECT id FROM job WHERE job_type = 'TriggererJob'")} if wait else set()
        args = ["triggerer"] + (["--capacity", str(capacity)] if capacity else [])
        component = self.start(name, *args, env={"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())})
        component.capacity = capacity
        if wait:

            def new_job() -> int | None:
                self.assert_alive(name)
                rows = self.sql(
                    "SELECT id FROM job WHERE job_type = 'TriggererJob' AND end_date IS NULL AND state = 'running'"
                )
                fresh = [row[0] for row in rows if row[0] not in before]
                return fresh[0] if fresh else None

            self.triggerer_jobs[name] = wait_until(new_job, timeout=90, what=f"{name} to register its job")
        return component

    def triggerers(self) -> dict[str, Component]:
        return {name: c for name, c in self.components.items() if name.startswith("triggerer") and c.alive()}

    def use_triggerers(self, wanted: dict[str, int | None]) -> None:
        """Make exactly the triggerers in ``wanted`` (name -> capacity, None: default) run; stop others."""
        for name, component in self.triggerers().items():
            if name not in wanted or component.capacity != wanted[name]:
                self.terminate(name)
        for name, capacity in wanted.items():
            if name not in self.triggerers():
                self.start_triggerer(name, capacity)

    def kill(self, name: str) -> None:
        """kill -9 a component and everything it started: a crash, no clean-up."""
        component = self.components.pop(name)
        kill_tree(component.pid, signal.SIGKILL)
        component.popen.wait(timeout=30)

    def terminate(self, name: str) -> None:
        """Stop a component the way a service manager does (SIGTERM, then SIGKILL after 30 s)."""
        component = self.components.pop(name)
        component.popen.terminate()
        try:
            component.popen.wait(timeout=30)
        finally:
            kill_tree(component.pid, signal.SIGKILL)

    def executor_workloads(self) -> list[tuple[str, str, str]]:
        """(dag_id, task_id, run_id) of every task the LocalExecutor's worker processes run right now.

        Each worker process titles itself ``airflow worker -- LocalExecutor: <task instance id>`` while
        it runs a workload (``<idle>`` otherwise): the executor's slots, as the operating system sees them.
        """
        ti_ids = set()
        for proc in psutil.Process(self.components["scheduler"].pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                title = " ".join(proc.cmdline())
                if "LocalExecutor:" in title and not title.endswith("<idle>"):
                    ti_ids.add(title.rsplit(" ", 1)[-1])
        if not ti_ids:
            return []
        return self.sql("SELECT dag_id, task_id, run_id FROM task_instance WHERE id::text = ANY(%s)", [sorted(ti_ids)])

    def wait_workloads_released(self, dag_id: str, timeout: float = 60) -> None:
        """Wait until no executor slot runs a task of ``dag_id`` (a deferring task's process has exited).

        Answering an ask before its deferring process has exited can trip Airflow's scheduler race
        apache/airflow#72716 (a stale success from the deferral fails the resumed try); people answer
        later than that, so the tests do too.
        """
        wait_until(lambda: not any(w[0] == dag_id for w in self.executor_workloads()), timeout=timeout,
                   what=f"the executor to release the workloads of {dag_id}")

    def socket_holders(self, ports: dict[str, int]) -> dict[str, str]:
        """Which triggerer holds each Socket Mode connection: ``ports`` maps a connection id to the
        client port the emulator sees it from; the answer maps it to the triggerer's component name
        (found among the sockets of that triggerer's processes). Connections of no triggerer are left out.
        """
        by_port = {port: conn for conn, port in ports.items()}
        owners: dict[str, str] = {}
        for name, component in self.triggerers().items():
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(component.pid)
                for proc in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        for sock in proc.net_connections(kind="tcp"):
                            if sock.laddr and sock.laddr.port in by_port:
                                owners[by_port[sock.laddr.port]] = name
        return owners

    def trigger_holders(self, dag_id: str, run_ids: Iterable[str]) -> dict[str, int | None]:
        """For each run whose task waits on a trigger: the job id of the triggerer running it (None: nobody)."""
        return dict(self.sql(
            "SELECT ti.run_id, t.triggerer_id FROM task_instance ti JOIN trigger t ON ti.trigger_id = t.id "
            "WHERE ti.dag_id = %s AND ti.run_id = ANY(%s)",
            [dag_id, list(run_ids)],
        ))

    def boot(self) -> None:
        """Migrate the database, start every component (one triggerer) and wait until they are up."""
        self.airflow("db", "migrate")
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port))
        # The scheduler (LocalExecutor) serves task logs on a port: a free one, not the shared default.
        self.start("scheduler", "scheduler", env={"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})
        self.start("dag-processor", "dag-processor")
        self.start_triggerer("triggerer", wait=False)
        wait_until(self._api_up, timeout=120, what="the api-server to answer")

        def triggerer_job() -> int | None:
            self.assert_alive()
            rows = self.sql("SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'")
            return rows[0][0] if rows else None

        self.triggerer_jobs["triggerer"] = wait_until(triggerer_job, timeout=90, what="the triggerer to start")

    def _api_up(self) -> bool:
        self.assert_alive()
        try:
            return self._session.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).ok
        except requests.RequestException:
            return False

    def assert_alive(self, *names: str) -> None:
        for name in names or list(self.components):
            component = self.components[name]
            if not component.alive():
                raise RuntimeError(f"{name} exited with {component.popen.returncode}:\n{tail(component.log)}")

    def stop(self) -> None:
        """Stop every component (SIGTERM, then SIGKILL), then any straggler carrying our marker."""
        for component in self.components.values():
            if component.alive():
                component.popen.terminate()
        deadline = time.monotonic() + 8
        for component in self.components.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for component in self.components.values():
            kill_tree(component.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.popen.wait(timeout=10)
        leftovers = self.stragglers()
        for proc in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(leftovers, timeout=10)
        self._session.close()
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    def stragglers(self) -> list[psutil.Process]:
        """Processes still alive that carry this deployment's environment marker."""
        found = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if proc.environ().get(MARKER_VAR) == self.marker:
                    found.append(proc)
        return found

    def log_tails(self, lines: int = 40) -> str:
        logs = sorted(self.logs.glob("*.log"))
        return "\n".join(f"===== {path.name} (last {lines} lines) =====\n{tail(path, lines)}" for path in logs)

    # -- state -----------------------------------------------------------------------------------

    def sql(self, query: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Read Airflow's metadata database."""
        import psycopg2

        if self._db is None or self._db.closed:
            self._db = psycopg2.connect(self.db_dsn)
            self._db.autocommit = True
        with self._db.cursor() as cur:
            cur.execute(query, tuple(params))
            return cur.fetchall() if cur.description else []

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the public REST API (``/api/v2/...``) and return the decoded JSON."""
        response = self._session.request(method, f"{self.api_url}/api/v2/{path.lstrip('/')}", timeout=30, **kwargs)
        if not response.ok:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 180) -> None:
        wanted = set(dag_ids)

        def parsed() -> bool:
            self.assert_alive()
            rows = self.sql("SELECT dag_id FROM dag WHERE is_stale = false AND dag_id = ANY(%s)", [list(wanted)])
            return {r[0] for r in rows} == wanted

        try:
            wait_until(parsed, timeout=timeout, what=f"DAGs {sorted(wanted)} to be parsed", interval=1)
        except TimeoutError:
            errors = self.sql("SELECT filename, stacktrace FROM import_error")
            raise TimeoutError(f"DAGs not parsed; import errors: {errors}") from None

    def set_pool(self, name: str, slots: int) -> None:
        body = {"name": name, "slots": slots, "include_deferred": False}
        try:
            self.api("POST", "pools", json=body)
        except RuntimeError:
            self.api("PATCH", f"pools/{name}", json=body)

    def pool(self, name: str) -> dict[str, Any]:
        return self.api("GET", f"pools/{name}")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Create a DAG run through the REST API; returns its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.api("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def fail_unfinished_runs(self, dag_id: str) -> list[str]:
        """Mark every queued or running run of ``dag_id`` failed through the REST API, as an operator
        would: what an earlier test left waiting frees its triggerer capacity. Returns their run ids."""
        query = "SELECT run_id FROM dag_run WHERE dag_id = %s AND state IN ('queued', 'running')"
        run_ids = [run_id for (run_id,) in self.sql(query, [dag_id])]
        for run_id in run_ids:
            self.api("PATCH", f"dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
        return run_ids

    def run_states(self, dag_id: str, run_ids: Iterable[str]) -> dict[str, str]:
        query = "SELECT run_id, state FROM dag_run WHERE dag_id = %s AND run_id = ANY(%s)"
        return dict(self.sql(query, [dag_id, list(run_ids)]))

    def task_states(self, dag_id: str, run_ids: Iterable[str]) -> dict[str, dict[str, str | None]]:
        """``{run_id: {task_id: state}}`` for the given runs (unmapped tasks)."""
        rows = self.sql(
            "SELECT run_id, task_id, state FROM task_instance "
            "WHERE dag_id = %s AND run_id = ANY(%s) AND map_index = -1",
            [dag_id, list(run_ids)],
        )
        states: dict[str, dict[str, str | None]] = {}
        for run_id, task_id, state in rows:
            states.setdefault(run_id, {})[task_id] = state
        return states

    def xcom(self, dag_id: str, task_id: str, key: str, run_ids: Iterable[str]) -> dict[str, Any]:
        """``{run_id: value}`` of an XCom (stored as serialized JSON in the metadata database)."""
        rows = self.sql(
            "SELECT run_id, value FROM xcom WHERE dag_id = %s AND task_id = %s AND key = %s AND run_id = ANY(%s)",
            [dag_id, task_id, key, list(run_ids)],
        )
        return {run_id: json.loads(value) if isinstance(value, str) else value for run_id, value in rows}

    def count_ti(self, dag_id: str, task_id: str, state: str, run_ids: Iterable[str] | None = None) -> int:
        query = "SELECT count(*) FROM task_instance WHERE dag_id = %s AND task_id = %s AND state = %s"
        params: list[Any] = [dag_id, task_id, state]
        if run_ids is not None:
            query += " AND run_id = ANY(%s)"
            params.append(list(run_ids))
        return self.sql(query, params)[0][0]

    def wait_runs_finished(self, dag_id: str, run_ids: Sequence[str], timeout: float) -> dict[str, str]:
        def finished() -> dict[str, str] | None:
            self.assert_alive()
            states = self.run_states(dag_id, run_ids)
            done = len(states) == len(run_ids) and all(s in ("success", "failed") for s in states.values())
            return states if done else None

        return wait_until(finished, timeout=timeout, what=f"{len(run_ids)} runs of {dag_id} to finish", interval=1)

    def wait_ti_count(self, dag_id: str, task_id: str, state: str, count: int, timeout: float,
                      run_ids: Iterable[str] | None = None) -> None:
        ids = None if run_ids is None else list(run_ids)

        def reached() -> bool:
            self.assert_alive()
            return self.count_ti(dag_id, task_id, state, ids) >= count

        wait_until(reached, timeout=timeout, what=f"{count} {dag_id}.{task_id} task instances {state}", interval=1)


def slack_connection_json(base_url: str, token: str, channel: str | None = None, app_token: str | None = None) -> str:
    """The ``slack`` Airflow connection, as AIRFLOW_CONN_SLACK_API_DEFAULT expects it (with ``app_token``:
    interactive, so questions carry buttons and triggerers open Socket Mode connections)."""
    extra: dict[str, Any] = {"base_url": base_url}
    if channel:
        extra["channel"] = channel
    if app_token:
        extra["app_token"] = app_token
    return json.dumps({"conn_type": "slack", "password": token, "extra": extra})
