"""Read back a QR code the server drew (a PNG data: URI from segno) with zxing-cpp, without an imaging library:
segno writes 1-bit greyscale or palette PNGs, which `png_pixels` unpacks."""

import base64
import struct
import zlib

import numpy as np


def png_pixels(png: bytes) -> np.ndarray:
    """The PNG as an 8-bit greyscale array (0 black, 255 white); 1-bit greyscale or palette, not interlaced."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, palette = 8, b"", None
    width = height = depth = colour = 0
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        data = png[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", data[:10])
        elif kind == b"PLTE":
            palette = [sum(data[i : i + 3]) // 3 for i in range(0, len(data), 3)]
        elif kind == b"IDAT":
            chunks += data
    assert depth == 1 and colour in (0, 3), (depth, colour)
    raw = zlib.decompress(chunks)
    stride = (width + 7) // 8 + 1
    rows, previous = [], bytearray(stride - 1)
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        current = _unfilter(line[0], bytearray(line[1:]), previous)
        rows.append(np.unpackbits(np.frombuffer(bytes(current), dtype=np.uint8))[:width])
        previous = current
    bits = np.array(rows, dtype=np.uint8)
    if colour == 3:
        return np.array([[palette[b] for b in row] for row in bits], dtype=np.uint8)
    return (bits * 255).astype(np.uint8)


def _unfilter(kind: int, line: bytearray, previous: bytearray) -> bytearray:
    """Undo a PNG row filter (bit depth 1: the 'pixel to the left' is the byte to the left)."""
    for i in range(len(line)):
        left = line[i - 1] if i else 0
        up = previous[i]
        corner = previous[i - 1] if i else 0
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 2:
            line[i] = (line[i] + up) & 255
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 255
        elif kind == 4:
            guess = left + up - corner
            nearest = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
            line[i] = (line[i] + nearest[2]) & 255
    return line


def decode_data_uri(uri: str) -> str:
    """The text of the QR code in a `data:image/png;base64,…` URI."""
    import zxingcpp

    assert uri.startswith("data:image/png;base64,")
    pixels = png_pixels(base64.b64decode(uri.split(",", 1)[1]))
    pixels = np.kron(pixels, np.ones((4, 4), dtype=np.uint8))  # larger modules read more reliably
    found = zxingcpp.read_barcodes(pixels)
    assert found, "no QR code found"
    return found[0].text
