"""Offline signature verification (SigNet-style, writer-independent).

A Siamese network trained with a contrastive loss on genuine/forged pairs of training writers
embeds preprocessed signatures; a questioned signature of a new writer is compared with K of
that writer's enrolled genuine references (mean, min or max distance). Evaluation reports FAR,
FRR and EER separately for skilled forgeries and random forgeries (other writers' genuines).
"""

from siamkit.applications.signatures.bank import SignatureBank, SignatureDecision, read_signature
from siamkit.applications.signatures.decision import REDUCTIONS, reference_scores
from siamkit.applications.signatures.evaluate import (
    ErrorRates,
    SignatureEvaluation,
    evaluate_signatures,
)
from siamkit.applications.signatures.model import build_signature_model

__all__ = [
    "REDUCTIONS",
    "ErrorRates",
    "SignatureBank",
    "SignatureDecision",
    "SignatureEvaluation",
    "build_signature_model",
    "evaluate_signatures",
    "read_signature",
    "reference_scores",
]
