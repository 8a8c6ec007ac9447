"""Starts `rtseg node` with launch/rtseg.params.yaml (override with params_file:=...)."""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("rtseg")
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file", default_value=os.path.join(share, "launch", "rtseg.params.yaml"),
            description="rtseg parameter file (ROS 2 parameter layout)"),
        # The shipped weights are installed beside the launch files.
        SetEnvironmentVariable("RTSEG_WEIGHTS_DIR", os.path.join(share, "weights")),
        Node(
            package="rtseg", executable="rtseg", name="rtseg", output="screen",
            arguments=["node", "--params-file", LaunchConfiguration("params_file")]),
    ])
