"""rosbag2 tools (`jcat-bag make | eval | replay | compare`): bags from sequences and videos, in-process evaluation,
node-in-the-loop replay, and their reports. make and eval need only rosbags (no ROS); replay needs rclpy."""
