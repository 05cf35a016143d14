"""Writing inferred types into code (``typeseer apply``) and into ``.pyi`` stubs.

The stages: plan (which predictions may be written, spelled how, needing which imports),
insert (LibCST, every other byte kept), verify (a type checker before and after), write
(atomically, never over a file changed since it was read).
"""

from .options import ExistingPolicy, Level, PythonVersion, parse_python_version

__all__ = ["ExistingPolicy", "Level", "PythonVersion", "parse_python_version"]
