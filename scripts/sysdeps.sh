#!/usr/bin/env bash
# System packages the Python wheels need but do not ship, installed with apt when run as
# root on Debian; otherwise the command to run is printed.
#  - libusb-1.0-0: open3d links against it (ImportError: libusb-1.0.so.0 without it).
#  - Debian's ROS 1 (roscore, rospy, actionlib, message packages, genpy/genmsg): the ROS
#    bridge and its tests (tests marked 'ros'). The venv reaches rospy through links made
#    by 'python -m robots.ros.rospath --link' (see the Makefile).
set -euo pipefail
ROS_PACKAGES=(ros-core python3-rospy python3-actionlib python3-actionlib-msgs
              python3-trajectory-msgs python3-sensor-msgs python3-genpy python3-genmsg
              python3-geometry-msgs python3-tf2-ros)

installed() {  # a Debian package is installed
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || missing+=(libusb-1.0-0)
ros_missing=()
if command -v dpkg-query >/dev/null; then
    for pkg in "${ROS_PACKAGES[@]}"; do installed "$pkg" || ros_missing+=("$pkg"); done
elif ! command -v roscore >/dev/null; then
    ros_missing=("${ROS_PACKAGES[@]}")
fi
all=("${missing[@]}" "${ros_missing[@]}")
[ ${#all[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${all[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${all[@]}" >/dev/null
    exit 0
fi
if [ ${#ros_missing[@]} -gt 0 ]; then
    # not fatal: everything but the ROS bridge works, and the 'ros' tests fail saying why
    echo "warning: ROS 1 packages missing: ${ros_missing[*]}; the ROS bridge and its tests" \
         "need them: sudo apt-get install ${ros_missing[*]} && make setup" >&2
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "error: missing system packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
