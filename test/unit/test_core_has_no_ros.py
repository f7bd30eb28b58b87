"""jcat_core stays pure PyTorch: no module in it imports ROS, statically or at import time."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "jcat_core"
ROS_ROOTS = ("rclpy", "rosidl", "rosbag2", "rmw", "launch", "launch_ros", "ament_index_python", "cv_bridge",
             "jcat_ros", "message_filters", "tf2_ros")


def is_ros_module(name: str) -> bool:
    root = name.split(".")[0]
    return root in ROS_ROOTS or root.endswith(("_msgs", "_srvs", "_interfaces"))


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__"
        ) and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
    return names


def test_no_source_file_in_jcat_core_imports_ros() -> None:
    offenders = {
        str(path.relative_to(CORE.parent)): sorted(n for n in imported_modules(path) if is_ros_module(n))
        for path in sorted(CORE.rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert offenders, "no Python files found under jcat_core"


def test_importing_every_jcat_core_module_loads_no_ros_module() -> None:
    modules = [
        ".".join(path.relative_to(CORE.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in sorted(CORE.rglob("*.py"))
    ]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if {is_ros_module.__name__}(m)))\n"
    )
    helper = f"ROS_ROOTS = {ROS_ROOTS!r}\n" + inspect.getsource(is_ros_module)
    result = subprocess.run([sys.executable, "-c", helper + script], capture_output=True, text=True,
                            cwd=CORE.parent, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
