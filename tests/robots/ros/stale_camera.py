"""TEST HELPER: a camera that stopped: it published its last frame AGE seconds ago (the
stamp says so) and nothing since, latched so that late subscribers get it.

    python tests/robots/ros/stale_camera.py NAMESPACE AGE
"""

import sys
import time

import numpy as np
import rospy
from sensor_msgs.msg import CameraInfo, Image

if __name__ == "__main__":
    ns, age = sys.argv[1].rstrip("/"), float(sys.argv[2])
    rospy.init_node("stale_camera", anonymous=True)
    pubs = [rospy.Publisher(f"{ns}/{t}", m, queue_size=1, latch=True) for t, m in
            (("color/image_raw", Image), ("aligned_depth_to_color/image_raw", Image),
             ("color/camera_info", CameraInfo))]
    h, w = 48, 64
    stamp = rospy.Time.from_sec(rospy.get_time() - age)
    colour = Image(height=h, width=w, encoding="rgb8", step=3 * w,
                   data=np.zeros((h, w, 3), np.uint8).tobytes())
    depth = Image(height=h, width=w, encoding="16UC1", step=2 * w,
                  data=np.full((h, w), 1100, "<u2").tobytes())
    info = CameraInfo(height=h, width=w, distortion_model="plumb_bob", D=[0.0] * 5,
                      K=[50.0, 0, 32, 0, 50.0, 24, 0, 0, 1])
    for pub, msg in zip(pubs, (colour, depth, info)):
        msg.header.stamp, msg.header.frame_id = stamp, "camera_color_optical_frame"
        pub.publish(msg)
    print("READY", flush=True)
    while not rospy.is_shutdown():
        time.sleep(0.1)
