"""sensor_msgs Image and CompressedImage read straight from their serialized (CDR) bytes.

The node takes camera frames serialized (a raw subscription): rclpy then skips building a Python message whose
pixels are one more copy of the frame (0.3-0.5 ms for 640x480 rgb8 on the project's CPU VM). The pixels stay a
read-only view of the bytes DDS delivered. Plain CDR (XCDR1, either byte order) is read here; any other encoding
goes through rclpy's own deserializer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from jcat_ros.image_conversion import ImageConversionError

ENCAPSULATION_BYTES = 4
PLAIN_CDR = {b"\x00\x00": ">", b"\x00\x01": "<"}  # encapsulation id -> byte order of the fields


@dataclass(frozen=True)
class SerializedImage:
    """An Image's fields, `data` a view of the serialized bytes (conversion reads the same attributes)."""

    header: Header
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: np.ndarray


@dataclass(frozen=True)
class SerializedCompressedImage:
    """A CompressedImage's fields, `data` a view of the serialized bytes."""

    header: Header
    format: str
    data: np.ndarray


class _Reader:
    """Reads CDR fields in order; offsets are aligned from the end of the encapsulation header, as CDR does."""

    def __init__(self, raw: bytes, order: str) -> None:
        self.raw, self.order, self.offset = raw, order, ENCAPSULATION_BYTES

    def _take(self, size: int, align: int) -> int:
        start = self.offset + (-(self.offset - ENCAPSULATION_BYTES) % align)
        if start + size > len(self.raw):
            raise ImageConversionError(f"serialized image is truncated: {len(self.raw)} bytes, a field at {start} "
                                       f"needs {size} more")
        self.offset = start + size
        return start

    def uint32(self) -> int:
        return struct.unpack_from(self.order + "I", self.raw, self._take(4, 4))[0]

    def int32(self) -> int:
        return struct.unpack_from(self.order + "i", self.raw, self._take(4, 4))[0]

    def uint8(self) -> int:
        return self.raw[self._take(1, 1)]

    def string(self) -> str:
        length = self.uint32()  # with the terminating NUL
        start = self._take(length, 1)
        return self.raw[start:start + max(length - 1, 0)].decode("utf-8", errors="replace")

    def octets(self) -> np.ndarray:
        length = self.uint32()
        return np.frombuffer(self.raw, dtype=np.uint8, count=length, offset=self._take(length, 1))

    def header(self) -> Header:
        stamp = Time(sec=self.int32(), nanosec=self.uint32())
        return Header(stamp=stamp, frame_id=self.string())


def _reader(raw: bytes) -> _Reader | None:
    order = PLAIN_CDR.get(bytes(raw[:2]))
    return _Reader(raw, order) if order is not None else None


def read_image(raw: bytes) -> SerializedImage | Image:
    """A serialized sensor_msgs/Image; ImageConversionError when the bytes are not one."""
    reader = _reader(raw)
    if reader is None:
        return _deserialize(raw, Image)
    header, height, width = reader.header(), reader.uint32(), reader.uint32()
    encoding, is_bigendian, step = reader.string(), reader.uint8(), reader.uint32()
    return SerializedImage(header, height, width, encoding, is_bigendian, step, reader.octets())


def read_compressed_image(raw: bytes) -> SerializedCompressedImage | CompressedImage:
    """A serialized sensor_msgs/CompressedImage; ImageConversionError when the bytes are not one."""
    reader = _reader(raw)
    if reader is None:
        return _deserialize(raw, CompressedImage)
    header = reader.header()
    return SerializedCompressedImage(header, reader.string(), reader.octets())


def _deserialize(raw: bytes, message_type: type) -> Image | CompressedImage:
    try:
        return deserialize_message(raw, message_type)
    except Exception as err:  # rclpy raises several types for bytes it cannot read
        raise ImageConversionError(f"cannot deserialize a {message_type.__name__}: {err}") from err
