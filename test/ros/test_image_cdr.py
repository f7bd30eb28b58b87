"""Images read from their serialized bytes equal rclpy's own deserialization, field by field and pixel by pixel,
for every CDR alignment a header's frame_id and an encoding name can cause; bytes that are not an image are refused
with a reason."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.ros

sensor_msgs = pytest.importorskip("sensor_msgs.msg")
serialization = pytest.importorskip("rclpy.serialization")
image_cdr = pytest.importorskip("jcat_ros.image_cdr")
conversion = pytest.importorskip("jcat_ros.image_conversion")
Image, CompressedImage = sensor_msgs.Image, sensor_msgs.CompressedImage

RNG = np.random.default_rng(3)


def image_message(frame_id: str, encoding: str, height: int, width: int, channels: int, padding: int,
                  big_endian: int = 0) -> Image:
    step = width * channels + padding
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=big_endian, step=step,
                data=RNG.integers(0, 256, height * step, dtype=np.uint8).tobytes())
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = -3 if big_endian else 1_700_000_123, 987_654_321
    return msg


@pytest.mark.parametrize("frame_id", ["", "c", "ca", "cam", "camera", "optical_frame_7", "kamera_ü"])
@pytest.mark.parametrize(("encoding", "channels"), [("rgb8", 3), ("mono8", 1), ("bgra8", 4), ("16UC1", 2)])
def test_image_fields_and_pixels_match_rclpy(frame_id: str, encoding: str, channels: int) -> None:
    sent = image_message(frame_id, encoding, 5, 7, channels, padding=len(frame_id) % 3, big_endian=len(frame_id) % 2)
    raw = serialization.serialize_message(sent)
    got = image_cdr.read_image(raw)
    expected = serialization.deserialize_message(raw, Image)
    assert got.header == expected.header
    for name in ("height", "width", "encoding", "is_bigendian", "step"):
        assert getattr(got, name) == getattr(expected, name), name
    assert got.data.tobytes() == bytes(expected.data)
    assert not got.data.flags.owndata, "the pixels are a view of the serialized bytes, not a copy"


def test_rgb8_frame_converts_as_the_typed_message_does() -> None:
    sent = image_message("camera", "rgb8", 48, 64, 3, padding=0)
    raw = serialization.serialize_message(sent)
    np.testing.assert_array_equal(conversion.to_rgb8(image_cdr.read_image(raw)), conversion.to_rgb8(sent))


@pytest.mark.parametrize("frame_id", ["", "cam", "camera"])
@pytest.mark.parametrize("fmt", ["jpeg", "png", "rgb8; png compressed bgr8"])
def test_compressed_image_matches_rclpy(frame_id: str, fmt: str) -> None:
    sent = CompressedImage(format=fmt, data=RNG.integers(0, 256, 101, dtype=np.uint8).tobytes())
    sent.header.frame_id = frame_id
    raw = serialization.serialize_message(sent)
    got = image_cdr.read_compressed_image(raw)
    assert got.header == sent.header and got.format == fmt
    assert got.data.tobytes() == bytes(sent.data)


def test_truncated_bytes_are_refused_with_a_reason() -> None:
    raw = serialization.serialize_message(image_message("camera", "rgb8", 4, 4, 3, padding=0))
    with pytest.raises(conversion.ImageConversionError, match="truncated"):
        image_cdr.read_image(raw[:-5])


def test_unknown_encapsulation_goes_to_rclpy_and_its_failure_is_refused() -> None:
    raw = serialization.serialize_message(image_message("camera", "rgb8", 4, 4, 3, padding=0))
    with pytest.raises(conversion.ImageConversionError, match="cannot deserialize a Image"):
        image_cdr.read_image(b"\x00\x07" + raw[2:12])
