"""Image and CompressedImage messages become HxWx3 uint8 RGB for every supported encoding; bad messages get a
clear ImageConversionError naming the problem."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.ros

sensor_msgs = pytest.importorskip("sensor_msgs.msg")
conversion = pytest.importorskip("jcat_ros.image_conversion")
Image, CompressedImage = sensor_msgs.Image, sensor_msgs.CompressedImage
ImageConversionError = conversion.ImageConversionError

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)


def make_image(pixels: np.ndarray, encoding: str, padding: int = 0, big_endian: bool = False) -> Image:
    """An Image message with `padding` extra bytes at the end of every row."""
    height, width = pixels.shape[:2]
    if pixels.dtype.itemsize > 1:
        pixels = pixels.astype(pixels.dtype.newbyteorder(">" if big_endian else "<"))
    rows = pixels.reshape(height, -1).view(np.uint8).reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, padding), 0xAB, np.uint8)], axis=1)
    return Image(height=height, width=width, encoding=encoding, is_bigendian=int(big_endian),
                 step=padded.shape[1], data=padded.tobytes())


@pytest.mark.parametrize("padding", [0, 3])
@pytest.mark.parametrize(
    ("encoding", "pixels"),
    [
        ("rgb8", RGB),
        ("bgr8", RGB[..., ::-1]),
        ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 255, np.uint8)])),
        ("bgra8", np.dstack([RGB[..., ::-1], np.zeros(RGB.shape[:2], np.uint8)])),
    ],
)
def test_colour_encodings_give_the_same_rgb_pixels(encoding: str, pixels: np.ndarray, padding: int) -> None:
    out = conversion.to_rgb8(make_image(np.ascontiguousarray(pixels), encoding, padding))
    assert out.dtype == np.uint8 and out.shape == RGB.shape
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize("big_endian", [False, True])
def test_single_channel_encodings_become_gray_rgb(big_endian: bool) -> None:
    gray8 = RGB[..., 0]
    np.testing.assert_array_equal(conversion.to_rgb8(make_image(gray8, "mono8", 2)), np.dstack([gray8] * 3))

    depth = np.arange(30, dtype=np.uint16).reshape(6, 5) * 1000  # 0 .. 29000 mm
    for encoding in ("mono16", "16UC1"):
        out = conversion.to_rgb8(make_image(depth, encoding, 4, big_endian))
        assert out[0, 0].tolist() == [0, 0, 0] and out[-1, -1].tolist() == [255, 255, 255]
        np.testing.assert_allclose(out[..., 0], depth / 29000 * 255, atol=1)

    metres = depth.astype(np.float32) / 1000
    metres[2, 2] = np.nan
    out = conversion.to_rgb8(make_image(metres, "32FC1", 0, big_endian))
    assert out[2, 2].tolist() == [0, 0, 0]  # non-finite pixels become black
    np.testing.assert_allclose(out[-1, -1], 255)


@pytest.mark.parametrize(
    ("encoding", "layout"),
    [("bayer_rggb8", "RGGB"), ("bayer_bggr8", "BGGR"), ("bayer_gbrg8", "GBRG"), ("bayer_grbg8", "GRBG")],
)
def test_bayer_patterns_demosaic_to_the_right_colours(encoding: str, layout: str) -> None:
    colour = {"R": 200, "G": 100, "B": 30}
    mosaic = np.zeros((16, 16), np.uint8)
    for index, channel in enumerate(layout):
        mosaic[index // 2 :: 2, index % 2 :: 2] = colour[channel]
    out = conversion.to_rgb8(make_image(mosaic, encoding))
    np.testing.assert_allclose(out[4:12, 4:12].reshape(-1, 3).mean(axis=0), [200, 100, 30], atol=2)


def test_compressed_jpeg_and_png_decode_to_rgb() -> None:
    smooth = cv2.resize(RGB, (64, 48), interpolation=cv2.INTER_LINEAR)
    for fmt, tolerance in (("png", 0), ("jpeg", 12)):
        ok, data = cv2.imencode(".png" if fmt == "png" else ".jpg", smooth[..., ::-1])
        assert ok
        out = conversion.to_rgb8(CompressedImage(format=fmt, data=data.tobytes()))
        assert out.shape == smooth.shape
        assert np.abs(out.astype(int) - smooth).mean() <= tolerance


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (Image(height=2, width=2, encoding="yuv422", step=4, data=bytes(8)), "unsupported image encoding 'yuv422'"),
        (Image(height=0, width=0, encoding="rgb8", step=0, data=b""), "empty image"),
        (Image(height=2, width=4, encoding="rgb8", step=8, data=bytes(16)), "step 8 is smaller than one row"),
        (Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(20)), "data holds 20 bytes"),
        (CompressedImage(format="jpeg", data=b"this is not a jpeg"), "could not be decoded"),
        (CompressedImage(format="png", data=b""), "has no data"),
    ],
)
def test_bad_messages_raise_a_clear_error(message, expected: str) -> None:
    with pytest.raises(ImageConversionError, match=expected):
        conversion.to_rgb8(message)


def test_cv2_to_imgmsg_round_trips() -> None:
    for image, encoding in ((RGB, "rgb8"), (RGB[..., 0], "mono8"), (np.ones((3, 4), np.float32), "32FC1")):
        msg = conversion.cv2_to_imgmsg(np.ascontiguousarray(image), encoding)
        assert msg.is_bigendian == int(sys.byteorder == "big")
        np.testing.assert_array_equal(conversion.imgmsg_to_cv2(msg), image)
    with pytest.raises(ImageConversionError, match="needs uint8 with 3 channel"):
        conversion.cv2_to_imgmsg(np.zeros((2, 2), np.float32), "rgb8")
