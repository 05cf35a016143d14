"""The incremental cache: hits, what invalidates an entry, damaged databases, several writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from typeseer import api, cache
from typeseer.api import InferResult, infer
from typeseer.config import Config

STATIC = Config(use_model=False, report_all=True)  # every top-1 type shown
MODEL = Config()

FILES = {
    "pkg/__init__.py": "",
    "pkg/models.py": """
        class User:
            def __init__(self, name, admin=False):
                self.name = name
                self.admin = admin

            def greeting(self):
                return "hello " + self.name


        def make_user(name, level):
            return User(name)
        """,
    "pkg/service.py": """
        from pkg.models import make_user


        def run():
            user = make_user("ada", 3)
            return user.greeting()
        """,
    "pkg/other.py": """
        def unrelated(x=1):
            total = x + 2
            return total
        """,
}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, FILES)
    return tmp_path / "pkg"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / ".typeseer_cache" / "cache.sqlite"


def run(project: Path, store: Path | None, config: Config = STATIC, **options: object
        ) -> InferResult:
    return infer([project], config, cache=store, **options)  # type: ignore[arg-type]


def assert_same(cached: InferResult, fresh: InferResult) -> None:
    """Byte-identical results: the same predictions (all fields), diagnostics and figures."""
    assert cached.predictions == fresh.predictions
    assert [p.to_json() for p in cached.predictions] == [p.to_json() for p in fresh.predictions]
    assert [d for d in cached.diagnostics if d.message not in warnings(cached)] == \
        fresh.diagnostics
    assert (cached.files, cached.lines) == (fresh.files, fresh.lines)


def by_site(result: InferResult, file: str) -> dict[tuple[str, str, str], object]:
    return {(p.scope, p.kind, p.name): (p.type, p.confidence) for p in result.predictions
            if p.file == file}


def warnings(result: InferResult) -> list[str]:
    return [d.message for d in result.diagnostics if "the cache" in d.message]


# -- hits -----------------------------------------------------------------------------------

def test_an_unchanged_project_comes_from_the_cache_without_any_analysis(
        project: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = run(project, None, MODEL)
    first = run(project, store, MODEL)
    assert (first.analysed_files, first.cached_files) == (4, 0)
    assert_same(first, fresh)

    def no_analysis(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm run loads no model and parses nothing")

    monkeypatch.setattr(api._Worker, "__init__", no_analysis)
    second = run(project, store, MODEL)
    assert (second.analysed_files, second.cached_files, second.analysed_paths) == (0, 4, [])
    assert_same(second, fresh)
    assert not warnings(second)


def test_the_cache_directory_ignores_itself_and_sits_by_pyproject(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n", "src/app.py": "x = 1\n"})
    path = cache.default_cache_path([tmp_path / "src"])
    assert path == tmp_path / ".typeseer_cache" / "cache.sqlite"
    run(tmp_path / "src", path)
    assert (path.parent / ".gitignore").read_text().splitlines()[-1] == "*"


def test_without_pyproject_the_cache_is_under_the_first_root(tmp_path: Path) -> None:
    write(tmp_path, {"lib/app.py": "x = 1\n"})
    if cache.find_pyproject(tmp_path) is None:  # a pyproject.toml above tmp_path would win
        assert cache.default_cache_path([tmp_path / "lib" / "app.py"]) == \
            tmp_path / "lib" / ".typeseer_cache" / "cache.sqlite"


# -- what invalidates an entry --------------------------------------------------------------

def test_a_changed_call_reanalyses_the_callee_and_nothing_unrelated(
        project: Path, store: Path) -> None:
    before = run(project, store, MODEL)
    edit(project / "service.py", 'make_user("ada", 3)', 'make_user(b"ada", 2.5)')
    after = run(project, store, MODEL)
    # models.py is unchanged, but the model reads the arguments service.py passes to it.
    assert after.analysed_paths == ["models.py", "service.py"]
    assert after.cached_files == 2
    assert by_site(after, "models.py") != by_site(before, "models.py")
    assert_same(after, run(project, None, MODEL))


def test_a_new_call_from_an_unchanged_file_is_seen(project: Path, store: Path) -> None:
    """A call that starts resolving to another file's function (here through a re-export
    added to __init__.py) changes that function's call sites though neither file changed."""
    write(project.parent, {"pkg/caller.py": """
        from pkg import helper

        def go():
            return helper(b"raw")
        """, "pkg/tools.py": """
        def helper(data):
            return data
        """})
    run(project, store, MODEL)
    edit(project / "__init__.py", "", "from pkg.tools import helper\n")
    after = run(project, store, MODEL)
    assert {"__init__.py", "caller.py", "tools.py"} <= set(after.analysed_paths)
    assert "other.py" not in after.analysed_paths
    assert_same(after, run(project, None, MODEL))


def test_a_changed_module_reanalyses_its_importers(project: Path, store: Path) -> None:
    before = run(project, store)
    edit(project / "models.py", "return User(name)", "return str(name)")
    after = run(project, store)
    assert after.analysed_paths == ["models.py", "service.py"]
    assert by_site(before, "service.py")[("run", "variable", "user")][0] == "User"
    assert by_site(after, "service.py")[("run", "variable", "user")][0] == "str"
    assert_same(after, run(project, None))


def test_a_module_that_appears_or_goes_reanalyses_who_looked_for_it(
        project: Path, store: Path) -> None:
    edit(project / "other.py", "def unrelated", "from pkg.helpers import helper\n\n"
         "value = helper()\n\n\ndef unrelated")
    run(project, store)
    write(project.parent, {"pkg/helpers.py": "def helper():\n    return 1\n"})
    added = run(project, store)
    assert added.analysed_paths == ["helpers.py", "other.py"]
    assert by_site(added, "other.py")[("<module>", "variable", "value")][0] == "int"
    assert_same(added, run(project, None))
    (project / "helpers.py").unlink()
    removed = run(project, store)
    assert removed.analysed_paths == ["other.py"]
    assert_same(removed, run(project, None))
    with sqlite3.connect(store) as connection:  # the entry of the deleted file is gone
        files = [row[0] for row in connection.execute("SELECT file FROM entries")]
    assert not any(name.startswith("pkg/helpers.py") for name in files)


def test_settings_and_model_changes_invalidate_every_entry(
        project: Path, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(project, store)
    assert run(project, store).cached_files == 4
    assert run(project, store, replace(STATIC, jobs=2)).cached_files == 4  # no effect on results
    lower = replace(STATIC, min_confidence=0.3)
    assert run(project, store, lower).analysed_files == 4
    assert_same(run(project, store, lower), run(project, None, lower))
    model = tmp_path / "model.npz"
    model.write_bytes(b"weights, version 1")
    monkeypatch.setattr(cache, "_MODEL_FILES", (model,))
    assert run(project, store).analysed_files == 4
    assert run(project, store).cached_files == 4
    model.write_bytes(b"weights, version 2")
    assert run(project, store).analysed_files == 4


def test_unsaved_text_is_cached_apart_from_the_file(project: Path, store: Path) -> None:
    service = project / "service.py"
    overlay = {service.resolve(): service.read_text().replace('"ada"', "42")}
    run(project, store)
    edited = run(project, store, overlay=overlay)
    assert "service.py" in edited.analysed_paths
    assert_same(edited, infer([project], STATIC, overlay=overlay))
    assert_same(run(project, store), run(project, None))


# -- damaged, foreign and unwritable caches ----------------------------------------------------

def test_a_corrupt_database_is_rebuilt_with_one_warning(project: Path, store: Path) -> None:
    store.parent.mkdir(parents=True)
    store.write_bytes(b"this is not an SQLite database\n" * 100)
    result = run(project, store)
    assert len(warnings(result)) == 1 and "rebuilt" in warnings(result)[0]
    assert result.analysed_files == 4
    assert_same(result, run(project, None))
    again = run(project, store)
    assert again.cached_files == 4 and not warnings(again)


def test_a_damaged_entry_is_never_trusted(project: Path, store: Path) -> None:
    run(project, store)
    with sqlite3.connect(store) as connection:
        connection.execute("UPDATE entries SET result = replace(result, 'User', 'Admin')")
    result = run(project, store)
    assert len(warnings(result)) == 1 and "checksum" in warnings(result)[0]
    assert result.analysed_files == 4
    assert_same(result, run(project, None))


def test_a_foreign_database_is_replaced(project: Path, store: Path) -> None:
    store.parent.mkdir(parents=True)
    with sqlite3.connect(store) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    result = run(project, store)
    assert len(warnings(result)) == 1 and "not a typeseer cache" in warnings(result)[0]
    assert run(project, store).cached_files == 4


def test_an_unwritable_cache_leaves_the_run_without_it(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory would be\n")
    result = run(project, blocker / "cache.sqlite")
    assert len(warnings(result)) == 1 and "running without it" in warnings(result)[0]
    assert result.analysed_files == 4
    assert_same(result, run(project, None))


_WRITER = """
import sys
from pathlib import Path
from typeseer.api import infer
from typeseer.config import Config
result = infer([sys.argv[1]], Config(use_model=False, report_all=True), cache=Path(sys.argv[2]))
problems = [d for d in result.diagnostics if "cache" in d.message]
sys.exit(1 if problems or len(result.predictions) == 0 else 0)
"""


def test_concurrent_runs_leave_a_valid_cache(project: Path, store: Path) -> None:
    for index in range(30):  # enough work that the two runs overlap
        write(project.parent, {f"pkg/extra{index}.py": f"def f{index}(a=1):\n    return a\n"})
    runs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(project), str(store)])
            for _ in range(2)]
    assert [process.wait(timeout=120) for process in runs] == [0, 0]
    result = run(project, store)
    assert result.cached_files == 34 and not warnings(result)
    assert_same(result, run(project, None))
    with sqlite3.connect(store) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


_OPENER = """
import sys
from pathlib import Path
from typeseer.cache import ResultCache
warnings = []
for store in sys.argv[1:]:
    cache = ResultCache.open(Path(store), warnings)
    assert cache is not None and cache.enabled, warnings
    cache.close()
sys.exit(1 if warnings else 0)
"""


def test_processes_creating_one_cache_at_once_all_use_it(tmp_path: Path) -> None:
    """SQLite refuses a second process's switch to WAL at once on a new database, without
    waiting: each process must wait and retry rather than run without the cache."""
    stores = [str(tmp_path / str(index) / "cache.sqlite") for index in range(20)]
    runs = [subprocess.Popen([sys.executable, "-c", _OPENER, *stores]) for _ in range(3)]
    assert [process.wait(timeout=120) for process in runs] == [0, 0, 0]


def test_inference_uses_only_the_modules_the_version_covers(project: Path, store: Path) -> None:
    """Editing a module the cache version leaves out cannot change results: inference never
    imports one."""
    script = ("import sys; from pathlib import Path; from typeseer.api import infer; "
              f"infer([{str(project)!r}], cache=Path({str(store)!r})); "
              "print(' '.join(m for m in sys.modules if m.startswith('typeseer')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    covered = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
               for name in cache.inference_modules()}
    loaded = {name.removeprefix("typeseer.") for name in done.stdout.split()} - {"typeseer"}
    assert loaded <= covered
