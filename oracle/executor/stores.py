"""How a group's task names its database without carrying the password.

A task holds only :func:`store_name` of the daemon's engine: its URL with the password masked
(``postgresql+psycopg://oracle:***@db/oracle``). Where the task runs, :func:`store_engine`
turns the name back into an engine:

- in the process that named it (the in-process executor, a thread-based cluster): that very
  engine, so no second connection pool;
- on a Dask worker process: an engine of its own, the password from the worker's own secrets,
  read by the one secret loader (``ORACLE_DATABASE_PASSWORD``, or the file
  ``database_password`` in its ``secrets_dir`` / ``$CREDENTIALS_DIRECTORY``), or from the
  worker's own ``database_url`` when that names the same database with its password in it.

So the password never enters the task graph, the scheduler or the wire between them.
"""

from __future__ import annotations

import threading
import weakref
from functools import lru_cache

from sqlalchemy.engine import URL, Engine, make_url

from oracle.errors import ConfigError
from oracle.redact import redact

_named: weakref.WeakValueDictionary[str, Engine] = weakref.WeakValueDictionary()
_lock = threading.Lock()


def _name_of(url: URL) -> str:
    if any(key.lower() == "password" for key in url.query):
        raise ConfigError(f"setting 'database_url' = {redact(url.render_as_string())}: its query "
                          "holds a password, which tasks for the Dask workers would carry; give "
                          "it as the secret database_password instead", key="database_url",
                          value=redact(url.render_as_string()))
    return url.render_as_string(hide_password=True)


def store_name(engine: Engine) -> str:
    """The engine's URL with its password masked; remembered here, so that tasks run in this
    process use ``engine`` itself."""
    name = _name_of(engine.url)
    with _lock:
        _named[name] = engine
    return name


def store_engine(name: str) -> Engine:
    """The engine a task's store ``name`` refers to (see the module's docstring)."""
    with _lock:
        engine = _named.get(name)
    return engine if engine is not None else _own_engine(name)


@lru_cache(maxsize=4)
def _own_engine(name: str) -> Engine:
    """A worker's engine for ``name`` (one per database per process)."""
    from oracle.config import load_secrets, load_settings
    from oracle.store.engine import make_engine, normalise_url

    url = make_url(name)
    if url.password is None:  # no password to find (trust or peer auth, SQLite)
        return make_engine(name, check=False)
    settings = load_settings()
    secrets = load_secrets(settings)
    if secrets.database_password is not None:
        bare = url.set(password=None).render_as_string(hide_password=False)
        return make_engine(bare, password=secrets.database_password.get_secret_value(),
                           check=False)
    own = normalise_url(settings.database_url)
    if own.password is not None and _name_of(own) == name:
        return make_engine(settings.database_url, check=False)
    raise ConfigError(f"this Dask worker has no password for the database {name}: tasks carry "
                      "none; give the worker the secret database_password "
                      "(ORACLE_DATABASE_PASSWORD, or the file database_password in its "
                      "secrets_dir or $CREDENTIALS_DIRECTORY)", key="database_password")
