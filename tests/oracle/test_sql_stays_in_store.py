"""SQL lives in ``oracle/store/`` only: no other module of ``oracle`` builds or runs a statement.

An AST walk over every ``oracle/**/*.py`` outside ``oracle/store/`` reports, as ``file:line``:
an import of a statement builder (``select``, ``text``, ``col``, ``func``, ``delete``,
``update``, ``insert``) from sqlmodel or sqlalchemy, or its use through an imported module
(``sa.select``); any ``.exec(`` or ``.execute(`` call; and ``.get(``, ``.add(``, ``.query(`` and
the other session methods on a session or connection (a name called ``session`` or ``conn``,
an attribute of that name, or a name bound by ``with Session(...)``/``session_scope(...)``/
``.connect()``/``.begin()`` or annotated ``Session``). Callers keep their transactions
(``session_scope``) and hand the session to a store function.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORACLE = ROOT / "oracle"
STORE = ORACLE / "store"

SQL_MODULES = ("sqlmodel", "sqlalchemy")
BUILDERS = {"select", "text", "col", "func", "delete", "update", "insert"}
RUN_ANYWHERE = {"exec", "execute"}
SESSION_METHODS = RUN_ANYWHERE | {"query", "get", "add", "add_all", "merge", "delete", "scalar",
                                  "scalars"}
SESSION_NAMES = {"session", "conn", "connection"}
SESSION_FACTORIES = {"Session", "session_scope", "connect", "begin"}


def _is_sql_module(name: str | None) -> bool:
    return name is not None and (name in SQL_MODULES or name.startswith(
        tuple(f"{m}." for m in SQL_MODULES)))


def _called_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


def _session_names(tree: ast.AST) -> set[str]:
    """Names that hold a session or connection somewhere in the module."""
    names = set(SESSION_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if _called_name(item.context_expr) in SESSION_FACTORIES and isinstance(
                        item.optional_vars, ast.Name):
                    names.add(item.optional_vars.id)
        elif isinstance(node, ast.arg) and node.annotation is not None:
            annotation = ast.unparse(node.annotation).strip("'\"")
            if annotation.split(".")[-1] == "Session":
                names.add(node.arg)
    return names


def _receiver(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def sql_outside_store(source: str, filename: str = "<string>") -> list[str]:
    """``filename:line: what`` for every statement built or run in ``source``."""
    tree = ast.parse(source, filename=filename)
    found: list[tuple[int, str]] = []
    sql_aliases: set[str] = set()
    sessions = _session_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _is_sql_module(node.module):
            for alias in node.names:
                if alias.name in BUILDERS or alias.name == "*":
                    found.append((node.lineno, f"imports {alias.name} from {node.module}"))
                elif _is_sql_module(f"{node.module}.{alias.name}"):
                    sql_aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_sql_module(alias.name):
                    sql_aliases.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in BUILDERS:
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in sql_aliases:
                found.append((node.lineno, f"uses {ast.unparse(node)}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, _receiver(node.func.value)
            if method in RUN_ANYWHERE or (method in SESSION_METHODS and receiver in sessions):
                found.append((node.lineno, f"calls {ast.unparse(node.func)}()"))
    return [f"{filename}:{line}: {what}" for line, what in sorted(set(found))]


def _modules_outside_store() -> list[Path]:
    return sorted(p for p in ORACLE.rglob("*.py") if STORE not in p.parents)


def test_no_module_outside_store_builds_or_runs_sql() -> None:
    modules = _modules_outside_store()
    assert len(modules) > 50, f"only {len(modules)} modules found under {ORACLE}"
    problems = [problem for path in modules
                for problem in sql_outside_store(path.read_text(encoding="utf-8"),
                                                 str(path.relative_to(ROOT)))]
    assert not problems, ("SQL outside oracle/store/ (move the statement into a function of a "
                          "store repository and call it with the session):\n"
                          + "\n".join(problems))


PLANTED = '''\
import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert


def rows(engine, ids):
    with Session(engine) as db:
        db.exec(select(Row).where(col(Row.id).in_(ids)))
        db.add(Row())
    with engine.connect() as link:
        link.execute(text("SELECT 1"))
    return sa.func.max(Row.id)


def one(session: Session, key):
    return session.get(Row, key)


class Job:
    def run(self):
        self.session.query(Row).all()
        self.conn.merge(Row())
'''


def test_the_checker_reports_each_planted_statement_with_its_line() -> None:
    problems = sql_outside_store(PLANTED, "oracle/jobs/planted.py")
    assert problems == [
        "oracle/jobs/planted.py:2: imports col from sqlmodel",
        "oracle/jobs/planted.py:2: imports select from sqlmodel",
        "oracle/jobs/planted.py:3: imports text from sqlalchemy",
        "oracle/jobs/planted.py:4: imports insert from sqlalchemy.dialects.postgresql",
        "oracle/jobs/planted.py:9: calls db.exec()",
        "oracle/jobs/planted.py:10: calls db.add()",
        "oracle/jobs/planted.py:12: calls link.execute()",
        "oracle/jobs/planted.py:13: uses sa.func",
        "oracle/jobs/planted.py:17: calls session.get()",
        "oracle/jobs/planted.py:22: calls self.session.query()",
        "oracle/jobs/planted.py:23: calls self.conn.merge()",
    ]


def test_the_checker_leaves_look_alikes_alone() -> None:
    clean = '''\
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from oracle.store import results
from oracle.store.engine import session_scope


def push(engine: Engine, seen: set[str], cache: dict[str, int], worker) -> None:
    with session_scope(engine) as session:
        results.price_round(session, "zone", None)
    seen.add("x")
    cache.get("x")
    worker.conn.send(("ping", ()))
    Path("a").read_text()
'''
    assert sql_outside_store(clean) == []


def test_the_checker_finds_the_statements_of_a_real_store_module() -> None:
    """The store itself is left out of the walk, not invisible to the checker."""
    source = (STORE / "results.py").read_text(encoding="utf-8")
    problems = sql_outside_store(source, "oracle/store/results.py")
    assert any("imports select from sqlmodel" in p for p in problems)
    assert any("calls session.exec()" in p for p in problems)
