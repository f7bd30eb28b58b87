"""sensor_msgs images to numpy and back, through cv_bridge when it is installed, else through a small converter
with cv_bridge's function names and errors (cv_bridge is not on PyPI, so PyPI-only machines need this).

The tracker wants HxWx3 uint8 RGB: `to_rgb8` gives that for every supported encoding and for CompressedImage.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np

try:
    from sensor_msgs.msg import CompressedImage, Image
except ImportError:  # no ROS: the bag tools decode rosbags' messages, which have the same fields
    CompressedImage = Image = None

# encoding -> (numpy dtype, channels); the encodings of sensor_msgs/image_encodings.hpp we accept.
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "8UC3": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
    "bayer_rggb8": (np.dtype(np.uint8), 1),
    "bayer_bggr8": (np.dtype(np.uint8), 1),
    "bayer_gbrg8": (np.dtype(np.uint8), 1),
    "bayer_grbg8": (np.dtype(np.uint8), 1),
}
# OpenCV names a Bayer pattern by its second row's first two pixels, ROS by the first row's.
BAYER_TO_RGB = {
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB,
    "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB,
    "bayer_grbg8": cv2.COLOR_BayerGB2RGB,
}
TO_RGB = {"bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB, "bgra8": cv2.COLOR_BGRA2RGB}
MAX_PIXELS = 100_000_000  # refuse absurd frames before allocating them


class ImageConversionError(ValueError):
    """A message that cannot be turned into an image: unsupported encoding, wrong size, undecodable data."""


def _bytes_of(data: object) -> np.ndarray:
    """A message's data field as uint8, without a copy when it exposes a buffer (rclpy's array.array, bytes,
    rosbags' ndarray): a 640x480 rgb8 frame's copy took 0.4 ms, most of it page faults on fresh memory."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:  # a plain sequence of ints
        return np.array(data, dtype=np.uint8)


def _fallback_imgmsg_to_cv2(msg: Image) -> np.ndarray:
    """The message's pixels as an HxW or HxWxC array in the message's own encoding (no colour conversion); it
    shares memory with msg.data where the bytes allow, as cv_bridge's result does."""
    if msg.encoding not in ENCODINGS:
        raise ImageConversionError(
            f"unsupported image encoding '{msg.encoding}'; supported: {', '.join(sorted(ENCODINGS))}"
        )
    dtype, channels = ENCODINGS[msg.encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ImageConversionError(f"empty image: {width}x{height} pixels")
    if height * width > MAX_PIXELS:
        raise ImageConversionError(f"image of {width}x{height} pixels is larger than {MAX_PIXELS} pixels")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(
            f"step {step} is smaller than one row of {width} '{msg.encoding}' pixels ({row_bytes} bytes)"
        )
    buffer = _bytes_of(msg.data)
    if buffer.size < step * (height - 1) + row_bytes:
        raise ImageConversionError(
            f"data holds {buffer.size} bytes, but {height} rows of step {step} need {step * height}"
        )
    if buffer.size >= step * height:
        rows = buffer[: step * height].reshape(height, step)
    else:  # the last row's padding may be missing
        rows = np.pad(buffer, (0, step * height - buffer.size)).reshape(height, step)
    pixels = rows[:, :row_bytes].view(dtype)  # a view on msg.data, as cv_bridge gives
    big_endian_data = bool(msg.is_bigendian)
    if dtype.itemsize > 1 and big_endian_data != (sys.byteorder == "big"):
        pixels = pixels.byteswap()
    return pixels.reshape(height, width, channels) if channels > 1 else pixels.reshape(height, width)


def _fallback_compressed_imgmsg_to_cv2(msg: CompressedImage) -> np.ndarray:
    """Decode a jpeg/png CompressedImage into a BGR (or grayscale) array, as cv_bridge does."""
    data = _bytes_of(msg.data)
    if data.size == 0:
        raise ImageConversionError(f"compressed image (format '{msg.format}') has no data")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageConversionError(f"compressed image (format '{msg.format}', {data.size} bytes) could not be decoded")
    return image


def _fallback_cv2_to_imgmsg(image: np.ndarray, encoding: str = "passthrough", header=None) -> Image:
    """An Image message holding `image` (tightly packed rows, host byte order)."""
    if encoding == "passthrough":
        encoding = {(np.uint8, 1): "mono8", (np.uint8, 3): "bgr8", (np.uint8, 4): "bgra8",
                    (np.uint16, 1): "16UC1", (np.float32, 1): "32FC1"}.get(
            (image.dtype.type, 1 if image.ndim == 2 else image.shape[2]), "")
    if encoding not in ENCODINGS:
        raise ImageConversionError(f"cannot encode an array of {image.dtype} x {image.shape} as '{encoding}'")
    dtype, channels = ENCODINGS[encoding]
    if image.dtype != dtype or (1 if image.ndim == 2 else image.shape[2]) != channels:
        raise ImageConversionError(
            f"encoding '{encoding}' needs {dtype} with {channels} channel(s), got {image.dtype} x {image.shape}"
        )
    msg = Image(height=image.shape[0], width=image.shape[1], encoding=encoding)
    msg.is_bigendian = int(sys.byteorder == "big")
    msg.step = image.shape[1] * channels * dtype.itemsize
    msg.data = np.ascontiguousarray(image).tobytes()
    if header is not None:
        msg.header = header
    return msg


try:  # the real cv_bridge where ROS is installed from apt
    from cv_bridge import CvBridge as _CvBridge
    from cv_bridge import CvBridgeError

    _bridge = _CvBridge()

    def imgmsg_to_cv2(msg: Image) -> np.ndarray:
        """Pixels of an Image in its own encoding (cv_bridge's passthrough)."""
        if msg.encoding not in ENCODINGS:
            raise ImageConversionError(
                f"unsupported image encoding '{msg.encoding}'; supported: {', '.join(sorted(ENCODINGS))}"
            )
        try:
            return _bridge.imgmsg_to_cv2(msg, desired_encoding="passthrough")
        except (CvBridgeError, TypeError, ValueError) as err:
            raise ImageConversionError(str(err)) from err

    def compressed_imgmsg_to_cv2(msg: CompressedImage) -> np.ndarray:
        """Decoded pixels of a CompressedImage (BGR or grayscale)."""
        try:
            return _bridge.compressed_imgmsg_to_cv2(msg, desired_encoding="passthrough")
        except (CvBridgeError, TypeError, ValueError, cv2.error) as err:
            raise ImageConversionError(str(err)) from err

    def cv2_to_imgmsg(image: np.ndarray, encoding: str = "passthrough", header=None) -> Image:
        """An Image message holding `image`."""
        try:
            return _bridge.cv2_to_imgmsg(image, encoding=encoding, header=header)
        except (CvBridgeError, TypeError, ValueError) as err:
            raise ImageConversionError(str(err)) from err

    BACKEND = "cv_bridge"
except ImportError:
    imgmsg_to_cv2 = _fallback_imgmsg_to_cv2
    compressed_imgmsg_to_cv2 = _fallback_compressed_imgmsg_to_cv2
    cv2_to_imgmsg = _fallback_cv2_to_imgmsg
    BACKEND = "jcat_ros"


def to_rgb8(msg: Image | CompressedImage) -> np.ndarray:
    """HxWx3 uint8 RGB for the tracker (packed rgb8: a view on msg.data, no copy). Single-channel 16-bit and float
    images are scaled by their finite min..max range to 0..255 (depth or thermal cameras); grayscale is replicated
    into three channels."""
    if hasattr(msg, "format"):  # a CompressedImage (rclpy's or rosbags'); Image has no `format`
        pixels = compressed_imgmsg_to_cv2(msg)  # decoders give BGR(A) or gray, 8 or 16 bit
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        if channels > 1 and pixels.dtype == np.uint16:
            pixels = (pixels >> 8).astype(np.uint8)
        encoding = {1: "gray", 3: "bgr8", 4: "bgra8"}[channels]
    else:
        pixels = imgmsg_to_cv2(msg)
        encoding = msg.encoding
    if encoding in BAYER_TO_RGB:
        return cv2.cvtColor(np.ascontiguousarray(pixels), BAYER_TO_RGB[encoding])
    if encoding in TO_RGB:
        return cv2.cvtColor(np.ascontiguousarray(pixels), TO_RGB[encoding])
    if encoding in ("rgb8", "8UC3"):
        return np.ascontiguousarray(pixels)  # packed rows: msg.data itself, no copy
    gray = pixels if pixels.dtype == np.uint8 else _scale_to_uint8(pixels)
    return cv2.cvtColor(np.ascontiguousarray(gray), cv2.COLOR_GRAY2RGB)


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Linear map of the finite min..max range to 0..255; non-finite pixels become 0."""
    values = values.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    low, high = float(values[finite].min()), float(values[finite].max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.where(finite, np.clip(scaled, 0, 255), 0).astype(np.uint8)
