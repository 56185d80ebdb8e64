"""Self-supervised Siamese learning: similarity from unlabeled images (``task: ssl``).

SimCLR, SimSiam, BYOL and VICReg train a :class:`~siamkit.models.SiameseNetwork` on two augmented
views of each image (:mod:`~siamkit.applications.ssl.methods`,
:mod:`~siamkit.applications.ssl.views`), watch for collapse
(:mod:`~siamkit.applications.ssl.monitor`) and save a normal siamkit bundle;
``siamkit train configs/simclr.yaml`` runs it (:mod:`~siamkit.applications.ssl.task`), and
``siamkit train configs/finetune.yaml --init-from RUN/model`` fine-tunes it on a few labels. The
modules are imported where used, so importing this package loads nothing.
"""
