"""JCAT visual object tracking in pure PyTorch: network, tracker, training and evaluation.

This package never imports ROS; the ROS 2 side lives in ``jcat_ros``.
"""

__version__ = "0.1.0"
