"""Reads a work dir's event files with TensorBoard's own EventAccumulator and prints what it found.

Used by tests/end_to_end.rs when IBEX_TB_PYTHON names a Python that has `tensorboard` (tools/test
sets one up). Exits non-zero if TensorBoard cannot read the files."""
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0, "tensors": 0})
acc.Reload()
tags = acc.Tags()
for tag in sorted(tags["scalars"]):
    print(tag, len(acc.Scalars(tag)))
images = [im for tag in tags["images"] for im in acc.Images(tag)]
sizes = sorted({f"{im.width}x{im.height}" for im in images})
print("images", len(images), " ".join(sizes))
for tag in sorted(tags.get("tensors", [])):
    print("text", tag, acc.Tensors(tag)[0].tensor_proto.string_val[0].decode()[:60].replace("\n", " "))
if not tags["scalars"] or not images:
    sys.exit("no scalars or no images")
