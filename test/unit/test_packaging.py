"""The repository is both a valid ROS 2 package (package.xml, CMakeLists.txt) and a pip-installable library."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

ROS_DEPENDENCIES = {
    "rclpy", "sensor_msgs", "std_msgs", "std_srvs", "vision_msgs", "builtin_interfaces", "diagnostic_msgs",
    "lifecycle_msgs", "cv_bridge", "launch_ros", "python3-opencv", "python3-numpy", "rosidl_default_runtime",
}


def test_package_xml_is_a_valid_format_3_ament_cmake_package() -> None:
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg comes with the ROS environment")
    package = catkin_pkg.parse_package(str(REPO / "package.xml"))
    package.validate()
    assert package.name == "jcat_ros"
    assert package.package_format == 3
    assert package.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in [group.name for group in package.member_of_groups]
    assert {d.name for d in package.buildtool_depends} >= {"ament_cmake", "rosidl_default_generators"}
    assert {d.name for d in package.exec_depends} >= ROS_DEPENDENCIES
    assert {"vision_msgs", "std_msgs", "builtin_interfaces"} <= {d.name for d in package.build_depends}
    for maintainer in package.maintainers:
        assert re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", maintainer.email), maintainer.email


def test_cmakelists_generates_every_interface_file_and_installs_the_python_packages() -> None:
    cmake = (REPO / "CMakeLists.txt").read_text()
    interface_files = sorted(p.relative_to(REPO).as_posix() for p in [*REPO.glob("msg/*.msg"), *REPO.glob("srv/*.srv")])
    assert interface_files == ["msg/TrackerState.msg", "srv/InitTarget.srv"]
    for path in interface_files:
        assert f'"{path}"' in cmake
    assert "ament_python_install_package(jcat_core)" in cmake
    assert "DESTINATION \"${PYTHON_INSTALL_DIR}/${PROJECT_NAME}\"" in cmake
    assert "install(DIRECTORY launch config DESTINATION share/${PROJECT_NAME})" in cmake


@pytest.mark.slow
def test_pip_wheel_holds_jcat_core_and_jcat_ros(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(REPO)], capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("jcat_ros-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "jcat_core/__init__.py" in names
    assert "jcat_core/models/__init__.py" in names
    assert "jcat_ros/__init__.py" in names
    assert not [n for n in names if n.startswith(("test/", "build/", "install/", "compat/"))]
    metadata = next(n for n in names if n.endswith("METADATA"))
    requires = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: torch" in requires
    assert "Provides-Extra: ros" in requires
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for script in ("jcat-export = jcat_core.cli.export:main", "tracker_node = jcat_ros.tracker_node:main",
                   "camera_node = jcat_ros.camera_node:main", "init_client = jcat_ros.init_client:main"):
        assert script in entry_points


def test_fastdds_profile_is_valid_xml_with_a_segment_larger_than_a_camera_frame() -> None:
    from xml.dom import minidom

    profile = minidom.parse(str(REPO / "config" / "fastdds_large_images.xml"))
    [segment] = profile.getElementsByTagName("segment_size")
    assert int(segment.firstChild.data) >= 4 * 1920 * 1080 * 3  # several 1080p rgb8 frames
