"""Visual object tracking with a fully-convolutional Siamese network (SiamFC, Bertinetto et al. 2016).

One shared fully-convolutional backbone embeds a 127×127 exemplar around the target and a
255×255 search region; their cross-correlation is the response map whose peak is the target's
new position. See :mod:`.model` (the network), :mod:`.tracker` (the online tracking loop),
:mod:`.metrics` (OTB success / precision) and :mod:`.train` (the ``siamfc`` training task).
"""
