import contextlib
import os
import subprocess
import sys
import uuid

import pytest

# The tests exercise the installed package, never the `python/` source folder.
_SOURCE = os.path.join(os.path.dirname(__file__), "..", "..", "python")
sys.path = [p for p in sys.path if os.path.abspath(p) != os.path.abspath(_SOURCE)]


@pytest.fixture(autouse=True)
def _release_objects():
    yield
    from deltaflow import _engine

    _engine.release_pending_objects()


class KafkaBroker:
    """The test broker (scripts/kafka.sh): its listeners and the CA of its TLS certificate."""

    def __init__(self, env: dict) -> None:
        self.bootstrap = env["DELTAFLOW_KAFKA_BOOTSTRAP"]
        self.ssl_bootstrap = env["DELTAFLOW_KAFKA_SSL_BOOTSTRAP"]
        self.sasl_bootstrap = env["DELTAFLOW_KAFKA_SASL_BOOTSTRAP"]
        self.ca = env["DELTAFLOW_KAFKA_CA"]
        self.other_ca = env["DELTAFLOW_KAFKA_OTHER_CA"]
        self._script = os.path.join(_ROOT, "scripts", "kafka.sh")

    def restart(self) -> None:
        subprocess.run([self._script, "restart"], check=True)

    def create_topic(self, partitions: int = 1, **config: str) -> str:
        """A new topic with a unique name."""
        from confluent_kafka.admin import AdminClient, NewTopic

        name = f"test-{uuid.uuid4().hex[:12]}"
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, partitions, 1, config=dict(config))])
        futures[name].result(30)
        return name


_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@contextlib.contextmanager
def _service(script_name: str, **variables: str):
    """A test service of scripts/ (start|stop|status|env) for the session: the running one, or
    one started here and stopped at the end. Yields the settings its `env` prints."""
    script = os.path.join(_ROOT, "scripts", script_name)
    environment = dict(os.environ, **variables)
    started = subprocess.run([script, "status"], env=environment).returncode != 0
    if started:
        subprocess.run([script, "start"], check=True, env=environment)
    out = subprocess.run([script, "env"], check=True, capture_output=True, text=True, env=environment).stdout
    try:
        yield dict(line.split("=", 1) for line in out.split())
    finally:
        if started:
            subprocess.run([script, "stop"], check=True, env=environment)


@pytest.fixture(scope="session")
def kafka_broker():
    """A Kafka broker for the session: the running one, or one started here (and stopped at
    the end), so that `pytest -k kafka` works on its own."""
    with _service("kafka.sh") as env:
        yield KafkaBroker(env)


class PostgresServer:
    """The test PostgreSQL server (scripts/postgres.sh): how to reach it, a client, and a
    restart."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.settings = {
            "host": env["DELTAFLOW_PG_HOST"],
            "port": env["DELTAFLOW_PG_PORT"],
            "dbname": env["DELTAFLOW_PG_DATABASE"],
            "user": env["DELTAFLOW_PG_USER"],
            "password": env["DELTAFLOW_PG_PASSWORD"],
        }
        self.ca = env["DELTAFLOW_PG_CA"]
        self.other_ca = env["DELTAFLOW_PG_OTHER_CA"]
        self._script = os.path.join(_ROOT, "scripts", "postgres.sh")

    def connect(self):
        import psycopg

        return psycopg.connect(autocommit=True, **self.settings)

    def execute(self, *statements: str) -> None:
        with self.connect() as conn:
            for statement in statements:
                conn.execute(statement)

    def query(self, statement: str) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(statement).fetchall()

    def unique_name(self, prefix: str = "t") -> str:
        return f"{prefix}_{uuid.uuid4().hex[:12]}"

    def restart(self) -> None:
        subprocess.run([self._script, "restart"], check=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the session: the running one, or one started here (and removed
    at the end), so that `pytest -k postgres` works on its own."""
    with _service("postgres.sh") as env:
        yield PostgresServer(env)


class DebeziumConnect:
    """The Kafka Connect worker with Debezium's PostgreSQL connector (scripts/debezium.sh)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _request(self, method: str, path: str, body: dict | None = None):
        import json
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return json.loads(text) if text else None

    def register(self, name: str, config: dict) -> None:
        self._request("POST", "/connectors", {"name": name, "config": config})

    def status(self, name: str) -> dict:
        return self._request("GET", f"/connectors/{name}/status")

    def remove(self, name: str) -> None:
        self._request("DELETE", f"/connectors/{name}")


@pytest.fixture(scope="session")
def debezium_connect(kafka_broker, postgres_server):
    """A Kafka Connect worker with Debezium for the session (started here when none runs)."""
    with _service("debezium.sh", DELTAFLOW_KAFKA_BOOTSTRAP=kafka_broker.bootstrap) as env:
        yield DebeziumConnect(env["DELTAFLOW_CONNECT_URL"])
