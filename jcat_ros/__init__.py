"""ROS 2 side of JCAT: the tracker node, image conversion and bag tools.

The generated interfaces (``jcat_ros.msg``, ``jcat_ros.srv``) are installed by colcon into a separate
directory; extending ``__path__`` lets them and the hand-written modules in a source checkout be imported
as one package.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
