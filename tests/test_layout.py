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


# Role comparisons ------------------------------------------------------------------------

# Comparisons of roles that are not a rule of who may do what, with the reason.
NOT_PERMISSION_RULES = {
    ("rollcal/org/views.py", "users"): "the people list filtered by the role an admin picks",
}
TEMPLATE_ROLE_COMPARISON = re.compile(r"\.role\s*(==|!=|\bin\b|\bnot\s+in\b)|\bRole\.")


def _mentions_role(node: ast.AST) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Attribute) and inner.attr == "role":
            return True
        if (
            isinstance(inner, ast.Attribute)
            and isinstance(inner.value, ast.Name)
            and inner.value.id == "Role"
            and inner.attr.isupper()
        ):
            return True
    return False


def _role_comparisons(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    where = str(path.relative_to(ROOT))
    found = []
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]

    def function_of(node: ast.AST) -> str | None:
        line = node.lineno
        inside = [f for f in functions if f.lineno <= line <= (f.end_lineno or f.lineno)]
        return min(inside, key=lambda f: f.end_lineno - f.lineno).name if inside else None

    for node in ast.walk(tree):
        compares = isinstance(node, ast.Compare) and any(
            _mentions_role(operand) for operand in [node.left, *node.comparators]
        )
        membership = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("in_", "not_in", "notin_")
            and _mentions_role(node.func.value)
        )
        if (compares or membership) and (where, function_of(node)) not in NOT_PERMISSION_RULES:
            found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_only_the_permissions_module_compares_roles():
    found = []
    for package in ("rollcal", "rollout", "calibration"):
        for path in _python_files(package):
            if path != ROOT / "rollcal" / "permissions.py":
                found += _role_comparisons(path)
    assert found == []


def test_templates_ask_may_and_never_compare_roles():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if TEMPLATE_ROLE_COMPARISON.search(line)
    ]
    assert found == []
