"""Read a PNG's signature and IHDR size with the standard library (no image library involved)."""
import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """``(width, height)`` of a PNG file; AssertionError if it is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG (starts with {head[:8]!r})"
    assert head[12:16] == b"IHDR", f"{path}: first chunk is {head[12:16]!r}, not IHDR"
    return struct.unpack(">II", head[16:24])
