"""The layering of the code: the shell (``rollcal/``) knows no domain, and calibration
knows nothing of rollout. Read from the source, so a new import fails here and not at
some later rename."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("rollout", "calibration")
# A module path of a domain in a string, such as "calibration.jobs:remind_raters".
DOMAIN_PATH = re.compile(r"^(rollout|calibration)[.:]")


def _python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _references(package: str, targets: tuple[str, ...]) -> list[str]:
    """Every import of (or module path in a string naming) one of ``targets``."""
    found = []
    for path in _python_files(package):
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(ROOT)
        for line, module in _imported_modules(tree):
            if module.split(".")[0] in targets:
                found.append(f"{where}:{line} imports {module}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = DOMAIN_PATH.match(node.value)
                if match and match.group(1) in targets:
                    found.append(f"{where}:{node.lineno} names {node.value!r}")
    return found


def test_the_shell_imports_no_domain():
    # Domains reach the shell through their init_app (rollcal/registry.py); the app
    # factory imports them by the names in ROLLCAL_DOMAINS, never by an import statement.
    assert _references("rollcal", DOMAINS) == []


def test_calibration_imports_nothing_of_rollout():
    assert _references("calibration", ("rollout",)) == []


def test_every_domain_registers_itself_with_the_app(app):
    from rollcal.notifications.models import Kind
    from rollcal.registry import registry

    registered = registry(app)
    assert {"rollout", "rollout_api", "calibration", "calibration_api"} <= set(app.blueprints)
    assert {"checklist_reminders", "session_deadlines", "email_delivery", "housekeeping"} <= set(
        registered.jobs
    )
    assert set(registered.report_commands) == {"readiness", "calibration"}
    assert "agreement" in app.cli.commands
    assert len(registered.demo_data) == 4
    # Every kind the column accepts is described by the domain that sends it.
    assert set(registered.notification_kinds) == set(Kind)
