"""Applications built on the library layers: text similarity, faces, signatures, tracking,
self-supervised learning. Each is a package that uses the layers below it (see ARCHITECTURE.md)
and is used only by the shells (``cli``, ``service``)."""
