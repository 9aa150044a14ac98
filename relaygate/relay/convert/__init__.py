"""Conversion between chat protocols through one internal representation (`ir`)."""
